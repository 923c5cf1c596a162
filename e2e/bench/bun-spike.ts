/**
 * The Bun spike of issue 18, measured: the Node bundles (dist/cni-bin), the Bun multi-call executable
 * (dist/bun/cni-bin, from tools/bun-build.mjs) and the reference plugins, interleaved in one run.
 *   node tools/bun-build.mjs && cd e2e && npx vite-node bench/bun-spike.ts [--quick]
 * Writes reports/bun-spike.json. Not a test.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { DIST_BIN, REFERENCE_BIN, TestNode } from '@tscni/testing/node';
import { CniBench, timeVersion, type BinSet } from './cni';
import { quantile } from './stats';

const quick = process.argv.includes('--quick');
const N = quick ? 8 : 25;
const NODE_BIN = join(import.meta.dirname, '../../dist/cni-bin');
const BUN_BIN = join(import.meta.dirname, '../../dist/bun/cni-bin');
if (!existsSync(join(BUN_BIN, 'bridge')))
  throw new Error(`${BUN_BIN}/bridge missing: run node tools/bun-build.mjs first`);
const SETS: BinSet[] = [
  { tag: 'node', dir: NODE_BIN, net: 61 },
  { tag: 'bun', dir: BUN_BIN, net: 64 },
  { tag: 'ref', dir: REFERENCE_BIN, net: 67 },
];
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
console.log(
  `\nBun spike — ${new Date().toISOString()} — ${N} runs, p50 ms (libcni → nsenter → plugin), load ${load.map((l) => l.toFixed(1)).join(' → ')} on ${cpus().length} CPUs`,
);
console.log(
  `${'what'.padEnd(26)}${'node'.padStart(8)}${'bun'.padStart(8)}${'ref'.padStart(8)}  bun/node  bun/ref  node/ref`,
);
const out = [...rows].map(([what, r]) => {
  const p = Object.fromEntries(SETS.map((s) => [s.tag, quantile(r[s.tag], 0.5)]));
  console.log(
    `${what.padEnd(26)}${fmt(p.node)}${fmt(p.bun)}${fmt(p.ref)}  ${(p.bun / p.node).toFixed(2).padStart(8)} ${(p.bun / p.ref).toFixed(2).padStart(8)} ${(p.node / p.ref).toFixed(2).padStart(8)}`,
  );
  return { what, p50: p, samples: r };
});
mkdirSync('reports', { recursive: true });
writeFileSync(
  'reports/bun-spike.json',
  JSON.stringify({ date: new Date().toISOString(), runs: N, loadavg: load, cpus: cpus().length, rows: out }, null, 2),
);
console.log('written reports/bun-spike.json');
