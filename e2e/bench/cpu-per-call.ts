/**
 * CPU per plugin call (perf's task-clock: the plugin and every process it starts, threads included) on the bridge +
 * host-local network and the Kubernetes chain, ADD and DEL, for this tree's Bun executable, an earlier build
 * (`--before`) and the reference, interleaved pod by pod (steady state: one warm-up pod per network first).
 *   cd e2e && npx vite-node bench/cpu-per-call.ts [--before <copy of an earlier dist/>] [--runs N] [--rows R,…]
 * `--rows` (default `bridge,chain`) also takes `masq` and `masq-nft`: bridge(ipMasq) + host-local alone with
 * `ipMasqBackend` iptables or nftables (Debian's reference, 1.1.1, ignores the field: its row is iptables both times).
 * Not a test. Each call runs as `perf stat -x, -e task-clock -o <file> -- nsenter --net=<node> -- <plugin>`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { CNIConfig, defaultExec, type NetworkConfigList, type PluginExec } from '@tscni/libcni';
import { TestNode } from '@tscni/testing/node';
import { abSets, argOf, Samples } from './ab-runs';
import { chainRuntime, CniBench, type BinSet } from './cni';
import { quantile } from './stats';

const N = Number(argOf('--runs') ?? 20);
const BEFORE = argOf('--before');
const SETS = abSets(BEFORE);
for (const s of SETS) if (!existsSync(join(s.dir, 'bridge'))) throw new Error(`${s.dir}/bridge missing`);

const samples = new Samples();
const node = new TestNode('cpucall');
const bench = new CniBench(node);
const load = [loadavg()[0]];
let seq = 0;

async function pod(s: BinSet, row: string, list: NetworkConfigList, keep: boolean): Promise<void> {
  const exec: PluginExec = async (file, opts) => {
    const out = join(node.tmp, `perf-${seq}-${basename(file)}.csv`);
    try {
      return await defaultExec(file, {
        ...opts,
        wrapper: ['perf', 'stat', '-x,', '-e', 'task-clock', '-o', out, '--', 'nsenter', `--net=${node.path}`, '--'],
      });
    } finally {
      const line = readFileSync(out, 'utf8')
        .split('\n')
        .find((l) => l.includes('task-clock'));
      if (keep && line)
        samples.record(`${row}:${basename(file)} ${opts.env?.CNI_COMMAND}`, s.tag, Number(line.split(',')[0]));
    }
  };
  const cni = new CNIConfig({ binDirs: [s.dir], cacheDir: join(node.tmp, `cache-${s.tag}`), exec });
  const netns = node.addPod();
  const rt = chainRuntime(`cpu${seq++}`, netns, 20000 + seq);
  await cni.addNetworkList(list, rt);
  await cni.delNetworkList(list, rt);
  node.exec('ip', ['netns', 'delete', netns.split('/').pop()!], { allowFail: true });
}

try {
  const ROWS: Record<string, (s: BinSet) => NetworkConfigList> = {
    bridge: (s) => bench.bridge(s),
    chain: (s) => bench.chain(s),
    masq: (s) => bench.masq(s, 'iptables'),
    'masq-nft': (s) => bench.masq(s, 'nftables'),
  };
  const wanted = (argOf('--rows') ?? 'bridge,chain').split(',');
  for (const r of wanted) if (!ROWS[r]) throw new Error(`--rows: ${r}? (${Object.keys(ROWS).join(', ')})`);
  const rows = (s: BinSet): [string, NetworkConfigList][] => wanted.map((r) => [r, ROWS[r](s)]);
  for (const s of SETS) for (const [row, list] of rows(s)) await pod(s, row, list, false);
  for (let i = 0; i < N; i++)
    for (const s of i % 2 ? [...SETS].reverse() : SETS)
      for (const [row, list] of rows(s)) await pod(s, row, list, true);
} finally {
  node.destroy();
}
load.push(loadavg()[0]);
console.log(
  `\nCPU per call (task-clock ms, p50 of ${N}) — ${new Date().toISOString()} — load ${load.map((l) => l.toFixed(1)).join(' → ')} on ${cpus().length} CPUs`,
);
const tags = SETS.map((s) => s.tag);
const head = [...tags, ...tags.filter((t) => t !== 'ref').map((t) => `${t}/ref`), ...(BEFORE ? ['bun/bun0'] : [])];
console.log(`${'what'.padEnd(24)}${head.map((h) => h.padStart(10)).join('')}`);
const sums: Record<string, Record<string, number>> = {};
for (const [what, r] of samples) {
  const p = Object.fromEntries(tags.map((t) => [t, quantile(r[t], 0.5)]));
  const row = what.split(':')[0] + ' ' + what.split(' ')[1];
  for (const t of tags) (sums[row] ??= {})[t] = (sums[row]?.[t] ?? 0) + p[t];
  const ratios = [...tags.filter((t) => t !== 'ref').map((t) => p[t] / p.ref), ...(BEFORE ? [p.bun / p.bun0] : [])];
  console.log(
    `${what.padEnd(24)}${[...tags.map((t) => p[t].toFixed(2)), ...ratios.map((v) => v.toFixed(2))].map((c) => c.padStart(10)).join('')}`,
  );
}
for (const [row, p] of Object.entries(sums)) {
  const ratios = [...tags.filter((t) => t !== 'ref').map((t) => p[t] / p.ref), ...(BEFORE ? [p.bun / p.bun0] : [])];
  console.log(
    `${`Σ ${row}`.padEnd(24)}${[...tags.map((t) => p[t].toFixed(2)), ...ratios.map((v) => v.toFixed(2))].map((c) => c.padStart(10)).join('')}`,
  );
}
