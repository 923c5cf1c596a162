/**
 * Where the harness's `crictl runp` + `stopp` + `rmp` goes (the CRI row's set-up: the Kubernetes chain, our plugins
 * in-process, the real crictl): per call, crictl's wall time against the RPC's own duration in the harness's log,
 * and per RPC the time of each step the harness logs (`steps`: netns, pause, cni, save, commit, …), as p50s.
 * Steps may overlap (RunPodSandbox starts the pause process while it ADDs the networks). With `--strace`, one more
 * pod runs under `strace -f` and every process the harness started and every fsync it made are listed, in order,
 * with their time since the pod's runp began (strace slows each fork: for the list, not for timing). Not a test.
 *   cd e2e && npx vite-node bench/harness-profile.ts [runs] [--strace]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { TestNode } from '@tscni/testing/node';
import { killPauses } from '@tscni/testing/harness-process';
import { CRICTL, Harness, type HarnessDirs } from '@tscni/testing/real-crictl';
import { CniBench } from './cni';
import { now, quantile } from './stats';

const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 10);
const traced = process.argv.includes('--strace');
const RPC = { runp: 'RunPodSandbox', stopp: 'StopPodSandbox', rmp: 'RemovePodSandbox' } as const;
type Verb = keyof typeof RPC;

function crictl(socket: string, args: string[]): { out: string; ms: number } {
  const t = now();
  const r = spawnSync(CRICTL, ['-r', `unix://${socket}`, '-t', '60s', ...args], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`crictl ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return { out: r.stdout.trim(), ms: now() - t };
}

const node = new TestNode('hprof');
let harness: Harness | undefined;
let dirs: HarnessDirs | undefined;
try {
  const dir = (d: string) => {
    mkdirSync(join(node.tmp, d), { recursive: true });
    return join(node.tmp, d);
  };
  dirs = {
    socket: join(dir('run'), 'cri.sock'),
    stateDir: dir('state'),
    confDir: dir('net.d'),
    cacheDir: dir('cache'),
  };
  const plugins = new CniBench(node).chainPlugins({ tag: 'prof', dir: '', net: 93 }, 'hprof0', '10.93.0.0/16');
  writeFileSync(
    join(dirs.confDir, '10-bench.conflist'),
    JSON.stringify({ cniVersion: '1.0.0', name: 'bench', plugins }),
  );
  harness = await Harness.start(node, dirs);
  const wall: Record<Verb | 'cycle', number[]> = { runp: [], stopp: [], rmp: [], cycle: [] };
  const cycle = (name: string, record: boolean) => {
    const file = join(node.tmp, `${name}.json`);
    const pod = { metadata: { name, namespace: 'bench', uid: `${name}-uid`, attempt: 0 }, hostname: name };
    writeFileSync(file, JSON.stringify({ ...pod, log_directory: '/tmp', linux: {} }));
    const runp = crictl(dirs!.socket, ['runp', file]);
    const stopp = crictl(dirs!.socket, ['stopp', runp.out]);
    const rmp = crictl(dirs!.socket, ['rmp', runp.out]);
    if (!record) return;
    wall.runp.push(runp.ms);
    wall.stopp.push(stopp.ms);
    wall.rmp.push(rmp.ms);
    wall.cycle.push(runp.ms + stopp.ms + rmp.ms);
  };
  cycle('warm', false);
  const logFrom = harness.stderr.length;
  for (let i = 0; i < runs; i++) cycle(`p${i}`, true);
  // crictl ran synchronously: the harness's log lines are still in the pipe until the event loop turns.
  await new Promise((r) => setTimeout(r, 500));

  const events = harness.stderr
    .slice(logFrom)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; durationMs?: number; steps?: Record<string, number> });
  const p50 = (xs: number[]) => +quantile(xs, 0.5).toFixed(1);
  const report: Record<string, unknown> = {
    runs,
    loadavg: loadavg().map((x) => +x.toFixed(2)),
    cycleP50: p50(wall.cycle),
  };
  for (const [verb, msg] of Object.entries(RPC) as [Verb, string][]) {
    const mine = events.filter((e) => e.msg === msg);
    const steps: Record<string, number[]> = {};
    for (const e of mine) for (const [k, v] of Object.entries(e.steps ?? {})) (steps[k] ??= []).push(v);
    const rpc = mine.map((e) => e.durationMs ?? 0);
    report[verb] = {
      crictlWall: p50(wall[verb]),
      rpc: p50(rpc),
      outsideRpc: p50(wall[verb].map((w, i) => w - (rpc[i] ?? 0))),
      steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, p50(v)])),
    };
  }
  console.log(JSON.stringify(report, null, 1));
  if (traced) await traceOneCycle(harness.pid, () => cycle('traced', false));
} finally {
  await harness?.stop().catch(() => {});
  if (dirs) killPauses(dirs.stateDir);
  node.destroy();
}

/** The execs and fsyncs of the harness (and its children) during `run`, as ms since it began. */
async function traceOneCycle(pid: number, run: () => void): Promise<void> {
  const out = join(node.tmp, 'strace.txt');
  // Every thread: the fsyncs of fs/promises run on libuv's pool.
  const threads = readdirSync(`/proc/${pid}/task`).flatMap((tid) => ['-p', tid]);
  const tracer = spawn('strace', ['-f', '-ttt', '-e', 'trace=execve,fsync,fdatasync', '-o', out, ...threads], {
    stdio: 'ignore',
  });
  await new Promise((r) => setTimeout(r, 1000));
  const start = Date.now() / 1000;
  run();
  tracer.kill('SIGINT');
  await new Promise((r) => tracer.once('close', r));
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /^(\d+)\s+([\d.]+) (execve\("[^"]*", \[(.*?)\]|f(?:data)?sync\(\d+)/.exec(line);
    if (!m || Number(m[2]) < start) continue;
    const what = m[4] !== undefined ? m[4].replace(/"/g, '').replace(/, /g, ' ') : m[3];
    if (line.includes(' = -1 ')) continue; // a PATH lookup miss
    console.log(`${((Number(m[2]) - start) * 1000).toFixed(1).padStart(8)} ms  pid ${m[1]}  ${what}`);
  }
}
