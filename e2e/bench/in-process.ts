/**
 * The harness with our plugins called in-process (the default) against the same harness exec'ing them
 * (`--no-cni-in-process`): `crictl runp` + `stopp` + `rmp` with the real crictl, the Kubernetes chain, both
 * harnesses up at once on one node (own bridge, subnet and dirs each), pods interleaved.
 *   cd e2e && npx vite-node bench/in-process.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_BIN, TestNode } from '@tscni/testing/node';
import { HarnessProcess, harnessDirs, killPauses, type HarnessOptions } from '@tscni/testing/harness-process';
import { CRICTL } from '@tscni/testing/interop/containerd';
import { now, quantile } from './stats';

const runs = Number(process.argv[2] ?? 10);
const node = new TestNode('binp');
const started: { h: HarnessProcess; o: HarnessOptions }[] = [];

function crictl(socket: string, args: string[]): string {
  const r = spawnSync(CRICTL, ['-r', `unix://${socket}`, '-t', '60s', ...args], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`crictl ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

function cycle(socket: string, name: string): number {
  const file = join(node.tmp, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      metadata: { name, namespace: 'bench', uid: `${name}-uid`, attempt: 0 },
      hostname: name,
      log_directory: '/tmp',
      linux: {},
    }),
  );
  const t = now();
  const id = crictl(socket, ['runp', file]);
  crictl(socket, ['stopp', id]);
  crictl(socket, ['rmp', id]);
  return now() - t;
}

async function harness(tag: string, net: number, extraArgs: string[]): Promise<string> {
  const dir = (d: string) => {
    mkdirSync(join(node.tmp, tag, d), { recursive: true });
    return join(node.tmp, tag, d);
  };
  const o = harnessDirs(join(node.tmp, tag), [DIST_BIN], { extraArgs });
  const plugins = [
    {
      type: 'bridge',
      bridge: `bi-${tag}`,
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: 'host-local', subnet: `10.${net}.0.0/16`, dataDir: dir('ipam') },
    },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
    { type: 'tuning', sysctl: { 'net.ipv4.conf.IFNAME.arp_ignore': '1' } },
  ];
  writeFileSync(join(o.confDir, '10-bench.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'bench', plugins }));
  started.push({ h: await HarnessProcess.start(node, o), o });
  return o.socket;
}

try {
  const inproc = await harness('in', 96, []);
  const exec = await harness('ex', 97, ['--no-cni-in-process']);
  cycle(inproc, 'warm-i');
  cycle(exec, 'warm-e');
  const t: { inproc: number[]; exec: number[] } = { inproc: [], exec: [] };
  for (let i = 0; i < runs; i++) {
    t.inproc.push(cycle(inproc, `i${i}`));
    t.exec.push(cycle(exec, `e${i}`));
  }
  const p50 = { inproc: quantile(t.inproc, 0.5), exec: quantile(t.exec, 0.5) };
  const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
  console.log(JSON.stringify({ runs, p50, ratio: p50.inproc / p50.exec, samples: t, load }, null, 1));
} finally {
  for (const { h, o } of started) {
    await h.stop();
    killPauses(o.stateDir);
  }
  node.destroy();
}
