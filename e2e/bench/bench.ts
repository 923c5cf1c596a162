/**
 * The benchmark: ours and the reference side by side in one run, interleaved so machine noise hits both.
 *   npx nx run e2e:bench            (or: npx vite-node e2e/bench/bench.ts [--quick])
 * Prints a table (medians, p90, ours/reference) and writes reports/bench.json. Not a test.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNIConfig, confListFromBytes, execInNetns, type NetworkConfigList } from '@tscni/libcni';
import { DIST_BIN, REFERENCE_BIN, TestNode, sh } from '@tscni/net/testing';
import { Crictl } from '../../apps/cri-harness/test/crictl';
import { HarnessProcess, killPauses } from '../../apps/cri-harness/test/harness-process';

const quick = process.argv.includes('--quick');
const N = quick ? 8 : 25;
const PODS = quick ? 48 : 200;
const PARALLEL = 16;
const SETS = [
  { name: 'tscni', dir: DIST_BIN },
  { name: 'reference', dir: REFERENCE_BIN },
] as const;
type SetName = (typeof SETS)[number]['name'];

interface Row { what: string; unit: string; values: Record<SetName, number[]> }
const rows: Row[] = [];
const extra: Record<string, unknown> = {};
const row = (what: string, unit = 'ms'): Row => {
  const r = { what, unit, values: { tscni: [], reference: [] } as Record<SetName, number[]> };
  rows.push(r);
  return r;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? NaN;
};
const now = () => performance.now();

const node = new TestNode('bench');
try {
  // 1. One exec.
  const version = row('one exec (VERSION)');
  const bare = row('  bare `node -e 0`');
  for (let i = 0; i < N * 2; i++) {
    for (const set of SETS) {
      const t = now();
      spawnSync(join(set.dir, 'bridge'), [], { env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION' }, input: '{}' });
      version.values[set.name].push(now() - t);
    }
    const t = now();
    spawnSync(process.execPath, ['-e', '0'], { env: { PATH: process.env.PATH } });
    bare.values.tscni.push(now() - t);
  }

  // 2. bridge + host-local, 3. the Kubernetes chain, through our libcni in the node namespace.
  const conflist = (name: string, subnet: string, plugins: Record<string, unknown>[]) =>
    confListFromBytes(JSON.stringify({ cniVersion: '1.0.0', name, plugins: plugins.map((p) => ({ ...p })) }).replaceAll('$SUBNET', subnet).replaceAll('$TMP', node.tmp));
  const bridgeOnly = (set: SetName) => conflist(`bh-${set}`, set === 'tscni' ? '10.91.0.0/16' : '10.92.0.0/16', [
    { type: 'bridge', bridge: `bhbr-${set.slice(0, 3)}`, isGateway: true, ipam: { type: 'host-local', subnet: '$SUBNET', dataDir: '$TMP/ipam' } },
  ]);
  const k8sChain = (set: SetName) => conflist(`k8s-${set}`, set === 'tscni' ? '10.93.0.0/16' : '10.94.0.0/16', [
    { type: 'bridge', bridge: `k8br-${set.slice(0, 3)}`, isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', subnet: '$SUBNET', dataDir: '$TMP/ipam' } },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
    { type: 'tuning', sysctl: { 'net.ipv4.conf.IFNAME.arp_ignore': '1' }, dataDir: '$TMP/tuning' },
  ]);
  const loopback = confListFromBytes(JSON.stringify({ cniVersion: '1.0.0', name: 'cni-loopback', plugins: [{ type: 'loopback' }] }));
  const cni = (set: (typeof SETS)[number]) => new CNIConfig({ binDirs: [set.dir], cacheDir: join(node.tmp, `cache-${set.name}`), exec: execInNetns(node.path) });
  let podSeq = 0;
  const newPod = () => node.addPod();
  const caps = (i: number) => ({ portMappings: [{ hostPort: 20000 + (i % 20000), containerPort: 80, protocol: 'tcp' }], bandwidth: { ingressRate: 100e6, ingressBurst: 10e6, egressRate: 100e6, egressBurst: 10e6 } });

  const timeChain = async (label: string, lists: (set: SetName) => NetworkConfigList[], withCaps: boolean) => {
    const add = row(`${label} ADD`);
    const del = row(`${label} DEL`);
    for (let i = 0; i < N; i++) {
      for (const set of SETS) {
        const c = cni(set);
        const netns = newPod();
        const rt = (ifName: string) => ({ containerID: `bench${podSeq++}`, netNS: netns, ifName, capabilityArgs: withCaps ? caps(podSeq) : {} });
        const ls = lists(set.name);
        const rts = ls.map((l) => rt(l.name === 'cni-loopback' ? 'lo' : 'eth0'));
        let t = now();
        for (let j = 0; j < ls.length; j++) await c.addNetworkList(ls[j], rts[j]);
        add.values[set.name].push(now() - t);
        t = now();
        for (let j = ls.length - 1; j >= 0; j--) await c.delNetworkList(ls[j], rts[j]);
        del.values[set.name].push(now() - t);
        sh('ip', ['netns', 'delete', netns.split('/').pop()!]);
        node.pods.splice(node.pods.indexOf(netns.split('/').pop()!), 1);
      }
    }
  };
  await timeChain('bridge + host-local', (s) => [bridgeOnly(s)], false);
  await timeChain('k8s chain (loopback, bridge ipMasq → portmap → bandwidth → tuning)', (s) => [loopback, k8sChain(s)], true);

  // 4. Many pods at once.
  const burst = row(`${PODS} pods at parallelism ${PARALLEL}`, 'pods/s');
  const failures: Record<string, number> = {};
  for (const set of SETS) {
    const c = cni(set);
    const list = bridgeOnly(set.name);
    const pods = Array.from({ length: PODS }, () => ({ netns: newPod(), id: `burst${podSeq++}` }));
    let next = 0;
    let failed = 0;
    const t = now();
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      while (next < pods.length) {
        const p = pods[next++];
        await c.addNetworkList(list, { containerID: p.id, netNS: p.netns, ifName: 'eth0' }).catch(() => failed++);
      }
    }));
    burst.values[set.name].push(PODS / ((now() - t) / 1000));
    failures[set.name] = failed;
    next = 0;
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      while (next < pods.length) {
        const p = pods[next++];
        await c.delNetworkList(list, { containerID: p.id, netNS: p.netns, ifName: 'eth0' }).catch(() => {});
      }
    }));
    for (const p of pods) sh('ip', ['netns', 'delete', p.netns.split('/').pop()!], { allowFail: true });
    node.pods.length = 0;
  }
  extra.burstFailures = failures;

  // 5. The harness: RunPodSandbox + Stop + Remove through the CRI socket, and its RSS with many pods.
  const cri = row('harness runp + stopp + rmp');
  const rss: Record<string, unknown> = {};
  for (const set of SETS) {
    const dir = (d: string) => {
      mkdirSync(join(node.tmp, `${set.name}-${d}`), { recursive: true });
      return join(node.tmp, `${set.name}-${d}`);
    };
    const opts = { socket: join(dir('run'), 'cri.sock'), stateDir: dir('state'), confDir: dir('net.d'), binDirs: [set.dir], cacheDir: dir('cache') };
    writeFileSync(join(opts.confDir, '10-bench.conflist'), JSON.stringify({ ...JSON.parse(k8sChain(set.name).bytes.toString()), name: `cri-${set.name}` }));
    const harness = await HarnessProcess.start(node, opts);
    const crictl = new Crictl(opts.socket, 60_000);
    const pod = (name: string) => JSON.stringify({ metadata: { name, namespace: 'bench', uid: `u-${name}`, attempt: 0 }, hostname: 'p', log_directory: '/tmp', linux: {} });
    try {
      for (let i = 0; i < N; i++) {
        const t = now();
        const id = await crictl.runp(pod(`seq-${set.name}-${i}`));
        await crictl.stopp(id);
        await crictl.rmp(id);
        cri.values[set.name].push(now() - t);
      }
      const rssOf = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${harness.pid}/status`, 'utf8'))![1]) / 1024;
      const before = rssOf();
      const ids: string[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        while (next < PODS) {
          const i = next++;
          ids.push(await crictl.runp(pod(`many-${set.name}-${i}`)));
        }
      }));
      rss[set.name] = { idleMiB: +before.toFixed(1), withPodsMiB: +rssOf().toFixed(1), pods: ids.length };
      next = 0;
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        while (next < ids.length) await crictl.rmp(ids[next++], true);
      }));
    } finally {
      await harness.stop();
      killPauses(opts.stateDir);
    }
  }
  extra.harnessRss = rss;
} finally {
  node.destroy();
}

// Report.
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : 1) : '–');
console.log(`\ntscni benchmark — ${new Date().toISOString()} — ${N} runs per row${quick ? ' (quick)' : ''}\n`);
console.log(`${'what'.padEnd(72)} ${'unit'.padEnd(7)} ${'ours p50'.padStart(9)} ${'p90'.padStart(7)} ${'ref p50'.padStart(9)} ${'p90'.padStart(7)} ${'ours/ref'.padStart(9)}`);
const report = rows.map((r) => {
  const o = { p50: quantile(r.values.tscni, 0.5), p90: quantile(r.values.tscni, 0.9) };
  const f = { p50: quantile(r.values.reference, 0.5), p90: quantile(r.values.reference, 0.9) };
  const ratio = o.p50 / f.p50;
  console.log(`${r.what.padEnd(72)} ${r.unit.padEnd(7)} ${fmt(o.p50).padStart(9)} ${fmt(o.p90).padStart(7)} ${fmt(f.p50).padStart(9)} ${fmt(f.p90).padStart(7)} ${(Number.isFinite(ratio) ? ratio.toFixed(2) + '×' : '–').padStart(9)}`);
  return { what: r.what, unit: r.unit, ours: o, reference: f, ratio };
});
console.log(`\n${JSON.stringify(extra)}`);
mkdirSync('reports', { recursive: true });
writeFileSync('reports/bench.json', JSON.stringify({ date: new Date().toISOString(), runs: N, pods: PODS, parallel: PARALLEL, rows: report, ...extra }, null, 2));
console.log('written reports/bench.json');
