/**
 * Bridge before/after: the Bun executable of this tree, that of an earlier build and the reference, interleaved pod
 * by pod, on bridge + host-local, bridge(ipMasq) + host-local alone, and the Kubernetes chain, ADD and DEL (steady:
 * one warm-up pod per network first). Quote the ratios; the box is shared.
 *   cd e2e && npx vite-node bench/bridge-ab.ts --before <copy of an earlier dist/> [--runs N]
 */
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { confListFromBytes } from '@tscni/libcni';
import { REFERENCE_BIN, TestNode } from '@tscni/testing/node';
import { CniBench, type BinSet } from './cni';
import { quantile } from './stats';

const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const BEFORE = argOf('--before');
if (!BEFORE) throw new Error('--before <dir> (a copy of an earlier dist/) is required');
const N = Number(argOf('--runs') ?? 20);
const SETS: BinSet[] = [
  { tag: 'after', dir: join(import.meta.dirname, '../../dist/bun/cni-bin'), net: 81 },
  { tag: 'before', dir: join(BEFORE, 'bun/cni-bin'), net: 84 },
  { tag: 'ref', dir: REFERENCE_BIN, net: 87 },
];
const node = new TestNode('brab');
const bench = new CniBench(node);
const masq = (s: BinSet) =>
  confListFromBytes(
    JSON.stringify({
      cniVersion: '1.0.0',
      name: `mq-${s.tag}`,
      plugins: bench.chainPlugins(s, `mq-${s.tag}`, `10.${s.net + 2}.0.0/16`).slice(0, 1),
    }),
  );
const rows: [string, (s: BinSet) => ReturnType<CniBench['bridge']>][] = [
  ['bridge + host-local', (s) => bench.bridge(s)],
  ['bridge(ipMasq) + host-local', masq],
  ['k8s chain', (s) => bench.chain(s)],
];
const samples = new Map<string, Record<string, number[]>>();
const add = (what: string, tag: string, ms: number) => {
  const r = samples.get(what) ?? Object.fromEntries(SETS.map((s) => [s.tag, [] as number[]]));
  r[tag].push(ms);
  samples.set(what, r);
};
const load = [loadavg()[0]];
try {
  for (let i = -1; i < N; i++) {
    const order = i % 2 ? [...SETS].reverse() : SETS;
    for (const [what, list] of rows)
      for (const s of order) {
        const r = await bench.pod(s, list(s));
        if (i < 0) continue; // warm-up: the bridge is created
        add(`${what} ADD`, s.tag, r.add);
        add(`${what} DEL`, s.tag, r.del);
      }
  }
} finally {
  node.destroy();
}
load.push(loadavg()[0]);
console.log(
  `\nbridge A/B — ${new Date().toISOString()} — ${N} runs, p50 ms, load ${load.map((l) => l.toFixed(1)).join(' → ')} on ${cpus().length} CPUs`,
);
console.log(
  `${'what'.padEnd(34)}${SETS.map((s) => s.tag.padStart(9)).join('')}${['after/before', 'after/ref', 'before/ref'].map((h) => h.padStart(14)).join('')}`,
);
for (const [what, r] of samples) {
  const p = Object.fromEntries(SETS.map((s) => [s.tag, quantile(r[s.tag], 0.5)]));
  const ratio = (a: number, b: number) => (a / b).toFixed(2).padStart(14);
  console.log(
    `${what.padEnd(34)}${SETS.map((s) => p[s.tag].toFixed(1).padStart(9)).join('')}${ratio(p.after, p.before)}${ratio(p.after, p.ref)}${ratio(p.before, p.ref)}`,
  );
}
