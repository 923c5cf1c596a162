#!/usr/bin/env node
// Module evaluation of a plugin call, step by step, inside a compiled Bun executable (`--bytecode`, as
// tools/bun-build.mjs builds the plugins) and under Node, for one or more source trees, runs interleaved:
//   node e2e/bench/module-eval.mjs [--runs 40] [label=/path/to/tree ...]   (default: this tree, "now")
// Each tree needs its node_modules (npm ci). For each plugin an entry requires what a real ADD evaluates, one step at
// a time, and prints performance.now() after each (relative to the process's start): the runtime's start, the
// skeleton (@tscni/cni/src/skel and what it imports), the plugin's own module and its imports, and the first decode
// of a config (which builds the schemas it needs, wherever they are built). Prints the minimum and the median of each
// step per tree. A report, not a test. Writes e2e/reports/module-eval.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 40;
const trees = (args.length ? args : [`now=${resolve(here, '../..')}`]).map((a) => {
  const [label, dir] = a.includes('=') ? a.split('=') : [a, a];
  return { label, dir: resolve(dir) };
});

const NETCONF = {
  cniVersion: '1.0.0',
  name: 'bench',
  type: 'bridge',
  bridge: 'bench0',
  isGateway: true,
  ipam: { type: 'host-local', subnet: '10.99.0.0/16', dataDir: '/tmp/module-eval-ipam' },
};

/** The entry for one plugin: `mark(step)` after each require or first use. Paths are absolute into `dir`. */
const entry = (dir, plugin) => {
  const src = (p) => JSON.stringify(join(dir, 'packages', p));
  const common = `
const t = [['runtime start', performance.now()]];
const mark = (step) => t.push([step, performance.now()]);
const skel = require(${src('cni/src/skel.ts')}); mark('skeleton (@tscni/cni skel)');
const { goParse } = require(${src('cni/src/go-json.ts')});
const { NetConfSchema } = require(${src('cni/src/types.ts')});
`;
  const done = `
const netConf = goParse(NetConfSchema, ${JSON.stringify(NETCONF)}).data;
const args = new skel.CmdArgs('ADD', 'c1', '/run/netns/x', 'eth0', '', [], '', netConf, {});
`;
  const report = `\nprocess.stdout.write(JSON.stringify(t) + '\\n');\n`;
  if (plugin === 'loopback')
    return (
      common +
      `require(${src('plugins/main/loopback/src/loopback.ts')}); mark('plugin module');` +
      done +
      `mark('first config decode');` +
      report
    );
  return (
    common +
    `require(${src('plugins/ipam/embedded/src/index.ts')}).embedIpamDelegates();
const { loadBridgeConf } = require(${src('plugins/main/bridge/src/config.ts')});
require(${src('plugins/main/bridge/src/bridge.ts')}); mark('plugin module');` +
    done +
    `loadBridgeConf(args); mark('first config decode');
require(${src('plugins/ipam/host-local/src/host-local.ts')}); mark('host-local module');
require(${src('cni/src/result.ts')}).toCurrentResult({ cniVersion: '1.0.0', ips: [{ address: '10.99.0.2/16' }] }); mark('first result decode');` +
    report
  );
};

const work = mkdtempSync(join(tmpdir(), 'tscni-module-eval-'));
const bunOf = (dir) =>
  [process.env.BUN, join(dir, 'node_modules/@oven/bun-linux-x64/bin/bun')].find((b) => b && existsSync(b));
const exes = [];
try {
  for (const tree of trees) {
    const bun = bunOf(tree.dir);
    if (!bun) throw new Error(`${tree.dir}: no bun (npm ci there, or set BUN)`);
    for (const plugin of ['loopback', 'bridge']) {
      const base = join(work, `${tree.label}-${plugin}`);
      writeFileSync(`${base}.ts`, entry(tree.dir, plugin));
      await build({
        entryPoints: [`${base}.ts`],
        outfile: `${base}.cjs`,
        // as tools/bundle.mjs's ESBUILD_NODE_OPTIONS (e2e may not import tools/)
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        minify: true,
        legalComments: 'none',
        logLevel: 'warning',
        nodePaths: [join(tree.dir, 'node_modules')],
        // as tools/bundle.mjs's ESBUILD_PLUGIN_OPTIONS, in a tree that has the run-time zod subset
        ...(existsSync(join(tree.dir, 'packages/zod-run/src/index.ts'))
          ? { alias: { zod: join(tree.dir, 'packages/zod-run/src/index.ts') } }
          : {}),
      });
      const flags = [
        '--compile',
        '--minify',
        '--bytecode',
        '--no-compile-autoload-dotenv',
        '--no-compile-autoload-bunfig',
      ];
      const r = spawnSync(bun, ['build', ...flags, `${base}.cjs`, '--outfile', base], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`bun build: ${r.stderr || r.stdout}`);
      exes.push({ tree: tree.label, plugin, runtime: 'bun', cmd: [base] });
      exes.push({ tree: tree.label, plugin, runtime: 'node', cmd: [process.execPath, `${base}.cjs`] });
    }
  }
  const samples = new Map();
  const load = [loadavg()[0]];
  for (let i = 0; i < RUNS; i++) {
    for (const e of i % 2 ? [...exes].reverse() : exes) {
      const r = spawnSync(e.cmd[0], e.cmd.slice(1), { encoding: 'utf8', env: { PATH: process.env.PATH } });
      if (r.status !== 0) throw new Error(`${e.cmd.join(' ')}: ${r.stderr}`);
      const marks = JSON.parse(r.stdout);
      const steps = marks.map(([step, at], k) => [step, k === 0 ? at : at - marks[k - 1][1]]);
      steps.push(['total (process start → last)', marks.at(-1)[1]]);
      for (const [step, ms] of steps) {
        const key = `${e.runtime}\t${e.plugin}\t${step}\t${e.tree}`;
        samples.set(key, [...(samples.get(key) ?? []), ms]);
      }
    }
  }
  load.push(loadavg()[0]);
  const stat = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { min: s[0], p50: s[Math.floor(s.length / 2)] };
  };
  console.log(
    `module evaluation, ${RUNS} runs each, ms (min / median) — load ${load.map((l) => l.toFixed(1)).join(' → ')} on ${cpus().length} CPUs`,
  );
  const labels = trees.map((t) => t.label);
  console.log(['runtime', 'plugin', 'step'.padEnd(28), ...labels.map((l) => l.padStart(16))].join('\t'));
  const rows = [];
  const seen = new Set();
  for (const key of samples.keys()) {
    const [runtime, plugin, step] = key.split('\t');
    const id = `${runtime}\t${plugin}\t${step}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const cells = labels.map((l) => stat(samples.get(`${id}\t${l}`) ?? [NaN]));
    rows.push({ runtime, plugin, step, ...Object.fromEntries(labels.map((l, k) => [l, cells[k]])) });
    console.log(
      [
        runtime,
        plugin,
        step.padEnd(28),
        ...cells.map((c) => `${c.min.toFixed(2)} / ${c.p50.toFixed(2)}`.padStart(16)),
      ].join('\t'),
    );
  }
  const out = join(here, '../reports');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'module-eval.json'),
    JSON.stringify({ date: new Date().toISOString(), runs: RUNS, loadavg: load, trees, rows }, null, 2),
  );
  console.log('written e2e/reports/module-eval.json');
} finally {
  rmSync(work, { recursive: true, force: true });
}
