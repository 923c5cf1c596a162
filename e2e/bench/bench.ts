/**
 * The benchmark of issue 18: every row of its table, ours and the reference side by side in one run, interleaved so
 * machine noise hits both, as p50/p90 and ours/reference. Not a test: it fails nothing.
 *   npx nx run e2e:bench [-- --quick] [--no-resident]   (or: cd e2e && npx vite-node bench/bench.ts [--quick])
 * With a resident build (dist/bun/cni-resident), ours in resident mode is a third column (e2e/bench/resident.ts).
 * Writes reports/bench.json (under e2e/ when run through nx).
 */
import { DIST_BIN, REFERENCE_BIN, TestNode } from '@tscni/testing/node';
import { CniBench, timeVersion, type BinSet } from './cni';
import { RESIDENT_BIN, startPlugind } from './resident';
import { timeRuntimes } from './runtimes';
import { Table, type Side } from './stats';

const quick = process.argv.includes('--quick');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const N = quick ? 6 : 20;
const CRI_RUNS = quick ? 3 : 10;
const PODS = 40;
const PARALLEL = 8;
const SETS: [Side, BinSet][] = [
  ['ours', { tag: 'ours', dir: DIST_BIN, net: 91 }],
  ['reference', { tag: 'ref', dir: REFERENCE_BIN, net: 81 }],
];
const want = (part: string) => !only || only.includes(part);

const table = new Table();
const node = new TestNode('bench');
const bench = new CniBench(node);
// Ours in resident mode as a third column (`--no-resident` leaves it out).
const plugind = process.argv.includes('--no-resident') ? undefined : await startPlugind(node);
if (plugind) SETS.push(['resident', { tag: 'res', dir: RESIDENT_BIN, net: 71 }]);
try {
  if (want('exec')) {
    const version = table.row('one exec (VERSION)', 2);
    for (let i = 0; i < N * 2; i++) for (const [side, set] of SETS) version.values[side].push(timeVersion(set));
  }
  const pods = async (
    label: string,
    goal: number,
    list: (set: BinSet) => ReturnType<CniBench['chain']>,
    ifName = 'eth0',
  ) => {
    const add = table.row(`${label} ADD`, goal);
    const del = table.row(`${label} DEL`, goal);
    for (let i = 0; i < N; i++) {
      for (const [side, set] of i % 2 ? [...SETS].reverse() : SETS) {
        const r = await bench.pod(set, list(set), ifName);
        add.values[side].push(r.add);
        del.values[side].push(r.del);
      }
    }
  };
  if (want('loopback')) await pods('loopback', 2, () => bench.loopback(), 'lo');
  if (want('bridge')) await pods('bridge + host-local', 2, (s) => bench.bridge(s));
  if (want('chain')) await pods('k8s chain bridge(ipMasq) → portmap → bandwidth → tuning', 1, (s) => bench.chain(s));
  if (want('burst')) {
    const wall = table.row(`${PODS} pods, ${PARALLEL} in parallel, bridge + host-local (wall, ADD+DEL)`, 1, 's');
    const detail: Record<string, unknown> = {};
    for (const [side, set] of SETS) {
      const r = await bench.burst(set, bench.bridge(set, 'burst'), PODS, PARALLEL);
      wall.values[side].push((r.add + r.del) / 1000);
      detail[side] = { addS: +(r.add / 1000).toFixed(2), delS: +(r.del / 1000).toFixed(2), failed: r.failed };
    }
    table.extra.burst = detail;
  }
  if (want('cri'))
    await timeRuntimes(
      bench,
      table.row('harness runp+stopp+rmp (ours) vs containerd 1.6 + reference (crictl)', 0.5),
      CRI_RUNS,
    );
} finally {
  await plugind?.stop();
  node.destroy();
}
table.report('reports/bench.json', {
  quick,
  runs: N,
  criRuns: CRI_RUNS,
  pods: PODS,
  parallel: PARALLEL,
  ours: DIST_BIN,
  reference: REFERENCE_BIN,
  ...(plugind ? { resident: RESIDENT_BIN } : {}),
});
