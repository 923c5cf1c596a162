/**
 * CPU and wall time of one plugin call, per verb, for several builds and the reference, calls interleaved:
 *   node_modules/@oven/bun-linux-x64/bin/bun e2e/bench/call-cpu.ts [--runs 50] [--verbs VERSION,ADD,DEL] \
 *     [--plugin loopback] [--conf '{"cniVersion":"1.0.0","name":"lo","type":"loopback"}'] label=<bin dir> …
 * Each call gets its own stdin pipe holding the config (`perf stat -r N plugin < conf.json` feeds every run after the
 * first an empty stdin: the runs share the file offset) and a namespace made for the run. CPU is the call's rusage
 * (user + system of all its threads and of the processes it reaped, `ip` included), as `perf stat -e task-clock`
 * counts it. Runs under Bun: its Subprocess has resourceUsage(); Node's child_process has none. Prints p50 and mean
 * per build and verb, and each build's p50 over the first one's.
 */
/** The part of Bun's API this script uses (the repo has no Bun type definitions). */
interface BunLike {
  spawn(opts: {
    cmd: string[];
    env: Record<string, string | undefined>;
    stdin: Response;
    stdout: 'ignore';
    stderr: 'ignore';
  }): { exited: Promise<number>; resourceUsage(): { cpuTime: { total: bigint | number } } | undefined };
  spawnSync(opts: { cmd: string[] }): { exitCode: number };
  file(path: string): { text(): Promise<string> };
}
const Bun = (globalThis as unknown as { Bun?: BunLike }).Bun!;
if (!Bun) throw new Error('run me with bun: node_modules/@oven/bun-linux-x64/bin/bun e2e/bench/call-cpu.ts');

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args.splice(i, 2)[1];
};
const runs = Number(opt('--runs', '50'));
const verbs = opt('--verbs', 'VERSION,ADD,DEL').split(',');
const plugin = opt('--plugin', 'loopback');
const conf = opt('--conf', '{"cniVersion":"1.0.0","name":"lo","type":"loopback"}');
const builds = args.map((a) => a.split('=', 2) as [string, string]);
const ns = `callcpu-${process.pid}`;
const sh = (cmd: string[]) => {
  if (Bun.spawnSync({ cmd }).exitCode !== 0) throw new Error(`${cmd.join(' ')} failed`);
};
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

sh(['ip', 'netns', 'add', ns]);
try {
  const cpu: Record<string, number[]> = {};
  const wall: Record<string, number[]> = {};
  for (const verb of verbs)
    for (let i = 0; i < runs + 2; i++)
      for (const [label, dir] of i % 2 ? [...builds].reverse() : builds) {
        const t0 = performance.now();
        const p = Bun.spawn({
          cmd: [`${dir}/${plugin}`],
          env: {
            PATH: process.env.PATH,
            CNI_COMMAND: verb,
            CNI_CONTAINERID: 'callcpu',
            CNI_NETNS: `/var/run/netns/${ns}`,
            CNI_IFNAME: 'lo',
            CNI_PATH: dir,
          },
          stdin: new Response(conf),
          stdout: 'ignore',
          stderr: 'ignore',
        });
        const code = await p.exited;
        const t1 = performance.now();
        if (code !== 0) console.error(`${label} ${verb}: exit ${code}`);
        if (i < 2) continue; // warm-up
        const key = `${verb} ${label}`;
        (cpu[key] ??= []).push(Number(p.resourceUsage()!.cpuTime.total) / 1000);
        (wall[key] ??= []).push(t1 - t0);
      }
  const load = (await Bun.file('/proc/loadavg').text()).split(' ')[0];
  console.log(`load ${load}, ${runs} calls per build and verb, interleaved; ms`);
  for (const verb of verbs) {
    const [c0, w0] = [p50(cpu[`${verb} ${builds[0][0]}`]), p50(wall[`${verb} ${builds[0][0]}`])];
    for (const [label] of builds) {
      const c = cpu[`${verb} ${label}`];
      const w = wall[`${verb} ${label}`];
      console.log(
        `${verb.padEnd(8)} ${label.padEnd(12)} cpu p50 ${p50(c).toFixed(2).padStart(6)} mean ${mean(c).toFixed(2).padStart(6)} (${(p50(c) / c0).toFixed(2)}×)` +
          `   wall p50 ${p50(w).toFixed(2).padStart(6)} mean ${mean(w).toFixed(2).padStart(6)} (${(p50(w) / w0).toFixed(2)}×)`,
      );
    }
  }
} finally {
  sh(['ip', 'netns', 'delete', ns]);
}

export {};
