#!/usr/bin/env node
// Start-up benchmark: `CNI_COMMAND=VERSION` of each built plugin against bare `node -e 0` and the
// reference plugin of the same name, interleaved in one run so machine noise hits all alike.
//   node e2e/bench/startup.mjs [--runs 30] [plugin ...]
// A report, not a test: it exits 0 whether the budget is met or not (a shared, noisy machine would make
// a pass/fail flaky). It times VERSION only; the start-up of a real ADD belongs in the benchmark
// (`npx nx run e2e:bench`, see the performance issue 18).
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const args = process.argv.slice(2);
const runsIdx = args.indexOf('--runs');
const runs = runsIdx >= 0 ? Number(args.splice(runsIdx, 2)[1]) : 30;
const distBin = join(root, 'dist/cni-bin');
const plugins = args.length ? args : readdirSync(distBin).filter((f) => !f.includes('.') && f !== 'package.json');

function time(file, argv, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { env, input: '{"cniVersion":"1.0.0"}', stdio: ['pipe', 'ignore', 'ignore'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${file} exited ${r.status}`);
  return ms;
}
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
};
const fmt = (n) => n.toFixed(1).padStart(6);

// A realistic runtime environment, including a CA bundle variable that node would otherwise load.
const env = {
  PATH: process.env.PATH,
  CNI_COMMAND: 'VERSION',
  NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
};
console.log(`start-up, CNI_COMMAND=VERSION, ${runs} runs each (ms)`);
// The standalone multi-call binary (tools/sea.mjs), when built, hard-linked under each plugin's name.
const sea = join(root, 'dist/standalone/tscni-cni');
const seaDir = existsSync(sea) ? mkdtempSync(join(tmpdir(), 'tscni-sea-')) : undefined;
console.log('plugin          node -e 0 (median)   ours median  p90   standalone   ref median   ours−node   ours/ref');
let worst = 0;
for (const p of plugins) {
  const node = [];
  const ours = [];
  const ref = [];
  const refBin = join('/usr/lib/cni', p);
  const hasRef = existsSync(refBin);
  const seaBin = seaDir ? join(seaDir, p) : undefined;
  if (seaBin) linkSync(sea, seaBin);
  const standalone = [];
  for (let i = 0; i < runs; i++) {
    node.push(time(process.execPath, ['-e', '0'], { PATH: env.PATH }));
    ours.push(time(join(distBin, p), [], env));
    if (hasRef) ref.push(time(refBin, [], env));
    // A single executable cannot drop NODE_EXTRA_CA_CERTS before Node reads it (no shebang): time it without.
    if (seaBin) standalone.push(time(seaBin, [], { PATH: env.PATH, CNI_COMMAND: 'VERSION' }));
  }
  const n = stats(node);
  const o = stats(ours);
  const r = hasRef ? stats(ref) : undefined;
  const sa = seaBin ? stats(standalone) : undefined;
  worst = Math.max(worst, o.median - n.median);
  console.log(
    `${p.padEnd(15)} ${fmt(n.median)}               ${fmt(o.median)} ${fmt(o.p90)}  ${sa ? fmt(sa.median) : '     –'}       ${r ? fmt(r.median) : '     –'}      ${fmt(o.median - n.median)}     ${r ? (o.median / r.median).toFixed(1) + '×' : '–'}`,
  );
}
if (seaDir) rmSync(seaDir, { recursive: true, force: true });
console.log(
  `budget: ours − bare node ≤ 20 ms (median); worst here ${worst.toFixed(1)} ms → ${worst <= 20 ? 'MET' : 'NOT MET'}`,
);
console.log(
  '(a report, not a test: the exit status is 0 either way; VERSION only — ADD start-up is timed by `npx nx run e2e:bench`)',
);
