/**
 * The Bun spike of issue 18, measured: the Node bundles (dist/cni-bin), the Bun multi-call executable
 * (dist/bun/cni-bin, from tools/bun-build.mjs) and the reference plugins, interleaved in one run.
 *   node tools/bun-build.mjs && cd e2e && npx vite-node bench/bun-spike.ts [--quick] [--runs N] [--before DIR]
 * `--before DIR`: also an earlier build, a copy of its dist/ (DIR/cni-bin and DIR/bun/cni-bin), interleaved with the
 * others (columns node0 and bun0), to tell what a change bought: quote the ratios, the box is shared.
 * Writes reports/bun-spike.json. Not a test.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { DIST_BIN, REFERENCE_BIN, TestNode } from '@tscni/testing/node';
import { CniBench, timeVersion, type BinSet } from './cni';
import { quantile } from './stats';

const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const N = Number(argOf('--runs') ?? (quick ? 8 : 25));
const BEFORE = argOf('--before');
const NODE_BIN = join(import.meta.dirname, '../../dist/cni-bin');
const BUN_BIN = join(import.meta.dirname, '../../dist/bun/cni-bin');
if (!existsSync(join(BUN_BIN, 'bridge')))
  throw new Error(`${BUN_BIN}/bridge missing: run node tools/bun-build.mjs first`);
const SETS: BinSet[] = [
  { tag: 'node', dir: NODE_BIN, net: 61 },
  { tag: 'bun', dir: BUN_BIN, net: 64 },
  { tag: 'ref', dir: REFERENCE_BIN, net: 67 },
  ...(BEFORE
    ? [
        { tag: 'node0', dir: join(BEFORE, 'cni-bin'), net: 70 },
        { tag: 'bun0', dir: join(BEFORE, 'bun/cni-bin'), net: 73 },
      ]
    : []),
];
for (const s of SETS) if (!existsSync(join(s.dir, 'bridge'))) throw new Error(`${s.dir}/bridge missing`);
const rows = new Map<string, Record<string, number[]>>();
const add = (what: string, tag: string, ms: number) => {
  const r = rows.get(what) ?? Object.fromEntries(SETS.map((s) => [s.tag, [] as number[]]));
  r[tag].push(ms);
  rows.set(what, r);
};

const node = new TestNode('bunspk');
const bench = new CniBench(node);
const load = [loadavg()[0]];
try {
  for (let i = 0; i < N; i++) {
    const order = i % 2 ? [...SETS].reverse() : SETS;
    for (const s of order) add('VERSION (one exec)', s.tag, timeVersion(s));
    for (const s of order) {
      const r = await bench.pod(s, bench.loopback(), 'lo');
      add('loopback ADD', s.tag, r.add);
      add('loopback DEL', s.tag, r.del);
    }
    for (const s of order) {
      const r = await bench.pod(s, bench.bridge(s));
      add('bridge + host-local ADD', s.tag, r.add);
      add('bridge + host-local DEL', s.tag, r.del);
    }
  }
} finally {
  node.destroy();
}
load.push(loadavg()[0]);
const fmt = (n: number) => n.toFixed(1).padStart(8);
const ratio = (a: number, b: number) => (a / b).toFixed(2).padStart(9);
console.log(
  `\nBun spike — ${new Date().toISOString()} — ${N} runs, p50 ms (libcni → nsenter → plugin), load ${load.map((l) => l.toFixed(1)).join(' → ')} on ${cpus().length} CPUs`,
);
const RATIOS: [string, string][] = [
  ['bun', 'node'],
  ['bun', 'ref'],
  ['node', 'ref'],
  ...(BEFORE
    ? ([
        ['bun0', 'ref'],
        ['node0', 'ref'],
        ['bun', 'bun0'],
        ['node', 'node0'],
      ] as [string, string][])
    : []),
];
console.log(
  `${'what'.padEnd(26)}${SETS.map((s) => s.tag.padStart(8)).join('')}${RATIOS.map(([a, b]) => `${a}/${b}`.padStart(11)).join('')}`,
);
const out = [...rows].map(([what, r]) => {
  const p = Object.fromEntries(SETS.map((s) => [s.tag, quantile(r[s.tag], 0.5)]));
  console.log(
    `${what.padEnd(26)}${SETS.map((s) => fmt(p[s.tag])).join('')}${RATIOS.map(([a, b]) => `  ${ratio(p[a], p[b])}`).join('')}`,
  );
  return { what, p50: p, samples: r };
});
mkdirSync('reports', { recursive: true });
writeFileSync(
  'reports/bun-spike.json',
  JSON.stringify({ date: new Date().toISOString(), runs: N, loadavg: load, cpus: cpus().length, rows: out }, null, 2),
);
console.log('written reports/bun-spike.json');
