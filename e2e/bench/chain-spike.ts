/**
 * The Kubernetes chain (bridge ipMasq → portmap → bandwidth → tuning) of the Bun executable before and after a
 * change, and the reference, interleaved pod by pod: the chain's ADD and DEL and each plugin's call within them
 * (exec through nsenter, as libcni runs them), as p50s and ratios — what a cut in the chain's plugins bought.
 *   cd e2e && npx vite-node bench/chain-spike.ts --before <copy of an earlier dist/> [--runs N]
 * Not a test.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { CNIConfig, defaultExec, type PluginExec } from '@tscni/libcni';
import { TestNode } from '@tscni/testing/node';
import { abSets, argOf, Samples } from './ab-runs';
import { CniBench } from './cni';
import { now, quantile } from './stats';

const N = Number(argOf('--runs') ?? 20);
const BEFORE = argOf('--before');
if (!BEFORE) throw new Error('--before <dir>: a copy of an earlier dist/');
const SETS = abSets(BEFORE);
for (const s of SETS) if (!existsSync(join(s.dir, 'bridge'))) throw new Error(`${s.dir}/bridge missing`);

const samples = new Samples();
const node = new TestNode('chainspk');
const bench = new CniBench(node);
const load = [loadavg()[0]];
try {
  let seq = 0;
  for (let i = 0; i < N; i++) {
    for (const s of i % 2 ? [...SETS].reverse() : SETS) {
      const timed: PluginExec = async (file, opts) => {
        const t = now();
        try {
          return await defaultExec(file, { ...opts, wrapper: ['nsenter', `--net=${node.path}`, '--'] });
        } finally {
          samples.record(`${basename(file)} ${opts.env?.CNI_COMMAND}`, s.tag, now() - t);
        }
      };
      const cni = new CNIConfig({ binDirs: [s.dir], cacheDir: join(node.tmp, `cache-${s.tag}`), exec: timed });
      const list = bench.chain(s);
      const netns = node.addPod();
      const rt = {
        containerID: `spk${seq++}`,
        netNS: netns,
        ifName: 'eth0',
        capabilityArgs: {
          portMappings: [{ hostPort: 20000 + seq, containerPort: 80, protocol: 'tcp' }],
          bandwidth: { ingressRate: 100e6, ingressBurst: 10e6, egressRate: 100e6, egressBurst: 10e6 },
        },
      };
      let t = now();
      await cni.addNetworkList(list, rt);
      samples.record('chain ADD', s.tag, now() - t);
      t = now();
      await cni.delNetworkList(list, rt);
      samples.record('chain DEL', s.tag, now() - t);
      node.exec('ip', ['netns', 'delete', netns.split('/').pop()!], { allowFail: true });
    }
  }
} finally {
  node.destroy();
}
load.push(loadavg()[0]);
console.log(
  `\nchain — ${new Date().toISOString()} — ${N} runs, p50 ms, load ${load.map((l) => l.toFixed(1)).join(' → ')} on ${cpus().length} CPUs`,
);
const head = ['bun', 'bun0', 'ref', 'bun/ref', 'bun0/ref', 'bun/bun0'];
console.log(`${'what'.padEnd(16)}${head.map((h) => h.padStart(10)).join('')}`);
const order = ['chain', 'bridge', 'portmap', 'bandwidth', 'tuning'];
const rank = (what: string) => order.indexOf(what.split(' ')[0]) * 2 + (what.endsWith('DEL') ? 1 : 0);
for (const what of [...samples.keys()].sort((a, b) => rank(a) - rank(b))) {
  const p = Object.fromEntries(SETS.map((s) => [s.tag, quantile(samples.get(what)![s.tag], 0.5)]));
  const cells = [p.bun, p.bun0, p.ref].map((v) => v.toFixed(1));
  const ratios = [p.bun / p.ref, p.bun0 / p.ref, p.bun / p.bun0].map((v) => v.toFixed(2));
  console.log(`${what.padEnd(16)}${[...cells, ...ratios].map((c) => c.padStart(10)).join('')}`);
}
