/**
 * Where the harness's `crictl runp` + `stopp` + `rmp` goes (the CRI row's set-up: the Kubernetes chain, our plugins
 * in-process, the real crictl): per call, crictl's wall time against the RPC's own duration in the harness's log,
 * and per RPC the time of each step the harness logs (`steps`: netns, pause, cni, save, commit, …), as p50s.
 * Steps may overlap (RunPodSandbox starts the pause process while it ADDs the networks). With `--strace`, one more
 * pod runs under `strace -f` and every process the harness started and every fsync it made are listed, in order,
 * with their time since the pod's runp began (strace slows each fork: for the list, not for timing). Not a test.
 * `--harness=node,bun` starts one harness per build (the Node bundle, the Bun executable), all up at once, pods
 * interleaved (in the order given), and prints bun/node of their cycle and CNI p50s; without it, one harness: the
 * suites' build (HARNESS_BIN).
 *   cd e2e && npx vite-node bench/harness-profile.ts [runs] [--strace] [--harness=node,bun]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { TestNode } from '@tscni/testing/node';
import { HARNESS_BIN, HARNESS_BUILDS, killPauses } from '@tscni/testing/harness-process';
import { CRICTL, Harness, type HarnessDirs } from '@tscni/testing/real-crictl';
import { CniBench } from './cni';
import { now, quantile } from './stats';

const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 10);
const traced = process.argv.includes('--strace');
const buildsArg = process.argv.find((a) => a.startsWith('--harness='))?.slice('--harness='.length);
const builds = buildsArg
  ? buildsArg.split(',').map((b) => {
      if (b !== 'node' && b !== 'bun') throw new Error(`--harness takes node, bun or both (node,bun), not ${b}`);
      return { tag: b, bin: HARNESS_BUILDS[b] };
    })
  : [{ tag: 'harness', bin: HARNESS_BIN }];
const RPC = { runp: 'RunPodSandbox', stopp: 'StopPodSandbox', rmp: 'RemovePodSandbox' } as const;
type Verb = keyof typeof RPC;
const TICKS_PER_S = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function crictl(socket: string, args: string[]): { out: string; ms: number } {
  const t = now();
  const r = spawnSync(CRICTL, ['-r', `unix://${socket}`, '-t', '60s', ...args], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`crictl ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return { out: r.stdout.trim(), ms: now() - t };
}

interface Run {
  tag: string;
  bin: string;
  dirs: HarnessDirs;
  harness?: Harness;
  logFrom: number;
  /** CPU ticks of the harness (utime + stime) and of the children it waited for, before the recorded pods. */
  cpuFrom?: { self: number; children: number };
  wall: Record<Verb | 'cycle', number[]>;
}

const loadAtStart = loadavg().map((x) => +x.toFixed(2));
const node = new TestNode('hprof');
const started: Run[] = [];
const p50 = (xs: number[]) => +quantile(xs, 0.5).toFixed(1);
try {
  // One harness per build, each with its own dirs, bridge and subnet, all up at once; pods interleaved.
  for (const [i, { tag, bin }] of builds.entries()) {
    const dir = (d: string) => {
      mkdirSync(join(node.tmp, tag, d), { recursive: true });
      return join(node.tmp, tag, d);
    };
    const dirs = {
      socket: join(dir('run'), 'cri.sock'),
      stateDir: dir('state'),
      confDir: dir('net.d'),
      cacheDir: dir('cache'),
      bin,
    };
    const set = { tag: 'prof', dir: '', net: 93 + i };
    const plugins = new CniBench(node).chainPlugins(set, `hp-${tag}`, `10.${93 + i}.0.0/16`, join(node.tmp, tag));
    writeFileSync(
      join(dirs.confDir, '10-bench.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'bench', plugins }),
    );
    const run: Run = { tag, bin, dirs, logFrom: 0, wall: { runp: [], stopp: [], rmp: [], cycle: [] } };
    started.push(run);
    run.harness = await Harness.start(node, dirs);
  }
  const cycle = (run: Run, name: string, record: boolean) => {
    const file = join(node.tmp, `${name}.json`);
    const pod = { metadata: { name, namespace: 'bench', uid: `${name}-uid`, attempt: 0 }, hostname: name };
    writeFileSync(file, JSON.stringify({ ...pod, log_directory: '/tmp', linux: {} }));
    const runp = crictl(run.dirs.socket, ['runp', file]);
    const stopp = crictl(run.dirs.socket, ['stopp', runp.out]);
    const rmp = crictl(run.dirs.socket, ['rmp', runp.out]);
    if (!record) return;
    run.wall.runp.push(runp.ms);
    run.wall.stopp.push(stopp.ms);
    run.wall.rmp.push(rmp.ms);
    run.wall.cycle.push(runp.ms + stopp.ms + rmp.ms);
  };
  for (const run of started) {
    cycle(run, `warm-${run.tag}`, false);
    run.logFrom = run.harness!.stderr.length;
    run.cpuFrom = cpuTicks(run.harness!.pid);
  }
  for (let i = 0; i < runs; i++) for (const run of started) cycle(run, `${run.tag}-p${i}`, true);
  // crictl ran synchronously: the harness's log lines are still in the pipe until the event loop turns.
  await new Promise((r) => setTimeout(r, 500));

  const report: Record<string, unknown> = { runs, loadavg: loadAtStart };
  const cni: Record<string, number> = {};
  for (const run of started) {
    const events = run
      .harness!.stderr.slice(run.logFrom)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; durationMs?: number; steps?: Record<string, number> });
    const cpu = cpuTicks(run.harness!.pid);
    const perPod = (ticks: number) => +((ticks * 1000) / TICKS_PER_S / runs).toFixed(1);
    const mine: Record<string, unknown> = {
      bin: run.bin,
      cycleP50: p50(run.wall.cycle),
      // CPU per pod: the harness's own (all its threads), and its tools' (ip, iptables-restore, …; not the pauses).
      cpuMsPerPod: {
        harness: perPod(cpu.self - run.cpuFrom!.self),
        tools: perPod(cpu.children - run.cpuFrom!.children),
      },
    };
    for (const [verb, msg] of Object.entries(RPC) as [Verb, string][]) {
      const these = events.filter((e) => e.msg === msg);
      const steps: Record<string, number[]> = {};
      for (const e of these) for (const [k, v] of Object.entries(e.steps ?? {})) (steps[k] ??= []).push(v);
      const rpc = these.map((e) => e.durationMs ?? 0);
      mine[verb] = {
        crictlWall: p50(run.wall[verb]),
        rpc: p50(rpc),
        outsideRpc: p50(run.wall[verb].map((w, i) => w - (rpc[i] ?? 0))),
        steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, p50(v)])),
      };
      cni[`${run.tag}.${verb}`] = p50(steps.cni ?? []);
    }
    report[run.tag] = mine;
  }
  const [a, b] = [started.find((r) => r.tag === 'node'), started.find((r) => r.tag === 'bun')];
  if (a && b)
    report['bun/node'] = {
      cycle: +(p50(b.wall.cycle) / p50(a.wall.cycle)).toFixed(2),
      cniAdd: +(cni['bun.runp'] / cni['node.runp']).toFixed(2),
      cniDel: +(cni['bun.stopp'] / cni['node.stopp']).toFixed(2),
    };
  report.loadavgAtEnd = loadavg().map((x) => +x.toFixed(2));
  console.log(JSON.stringify(report, null, 1));
  if (traced)
    for (const run of started) {
      console.log(`-- ${run.tag} (${run.bin})`);
      await traceOneCycle(run.harness!.pid, () => cycle(run, `traced-${run.tag}`, false));
    }
} finally {
  for (const run of started) {
    await run.harness?.stop().catch(() => {});
    killPauses(run.dirs.stateDir);
  }
  node.destroy();
}

/** utime + stime, and cutime + cstime, of a process (fields 14–17 of /proc/<pid>/stat), in clock ticks. */
function cpuTicks(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return { self: f[11] + f[12], children: f[13] + f[14] };
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
