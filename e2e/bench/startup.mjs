#!/usr/bin/env node
// Start-up benchmark: `CNI_COMMAND=VERSION` of each built plugin — its Node bundle and the Bun executable — against
// bare `node -e 0` and the reference plugin of the same name, interleaved in one run so machine noise hits all alike.
//   node e2e/bench/startup.mjs [--runs 30] [plugin ...]
// A report, not a test: it exits 0 whether the budget is met or not (a shared, noisy machine would make
// a pass/fail flaky). It times VERSION only; the start-up of a real ADD belongs in the benchmark
// (`npx nx run e2e:bench`, see the performance issue 18).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
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
// The Bun executable (tools/bun-build.mjs, the default build): its link named after the plugin, when built.
const bunBin = join(root, 'dist/bun/cni-bin');
console.log(
  'plugin          node -e 0 (median)   bundle median  p90   bun median  p90   ref median   bundle−node   bun/ref',
);
let worst = 0;
for (const p of plugins) {
  const node = [];
  const ours = [];
  const bun = [];
  const ref = [];
  const refBin = join('/usr/lib/cni', p);
  const hasRef = existsSync(refBin);
  const bunPlugin = existsSync(join(bunBin, p)) ? join(bunBin, p) : undefined;
  for (let i = 0; i < runs; i++) {
    node.push(time(process.execPath, ['-e', '0'], { PATH: env.PATH }));
    ours.push(time(join(distBin, p), [], env));
    if (bunPlugin) bun.push(time(bunPlugin, [], env));
    if (hasRef) ref.push(time(refBin, [], env));
  }
  const n = stats(node);
  const o = stats(ours);
  const b = bunPlugin ? stats(bun) : undefined;
  const r = hasRef ? stats(ref) : undefined;
  worst = Math.max(worst, o.median - n.median);
  console.log(
    `${p.padEnd(15)} ${fmt(n.median)}               ${fmt(o.median)} ${fmt(o.p90)}     ${b ? `${fmt(b.median)} ${fmt(b.p90)}` : '     –      –'}    ${r ? fmt(r.median) : '     –'}        ${fmt(o.median - n.median)}     ${b && r ? (b.median / r.median).toFixed(2) + '×' : '–'}`,
  );
}
console.log(
  `budget: Node bundle − bare node ≤ 20 ms (median); worst here ${worst.toFixed(1)} ms → ${worst <= 20 ? 'MET' : 'NOT MET'}`,
);
console.log(
  '(a report, not a test: the exit status is 0 either way; VERSION only — ADD start-up is timed by `npx nx run e2e:bench`)',
);
