/**
 * Kernel fixtures for the bandwidth suite: a probe for the tc features it needs, pods attached to a
 * bridge by the reference bridge + host-local (the chain's main plugin), and iperf3 between pods.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DIST_BIN, REFERENCE_BIN, sh, uniqueName, type TestNode } from '@tscni/testing/node';

/** The kernel feature bandwidth needs that this machine lacks (probed in a throwaway namespace), or undefined. */
export function missingTcFeature(): string | undefined {
  const ns = uniqueName('probe');
  const run = (args: string[]) =>
    spawnSync('nsenter', [`--net=/var/run/netns/${ns}`, '--', ...args], { encoding: 'utf8' }).status === 0;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) return 'a network namespace';
  try {
    if (!run(['ip', 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb'])) return 'veth';
    if (!run(['ip', 'link', 'add', 'pifb', 'type', 'ifb'])) return 'ifb (CONFIG_IFB)';
    if (
      !run([
        'tc',
        'qdisc',
        'add',
        'dev',
        'pa',
        'root',
        'handle',
        '1:',
        'tbf',
        'rate',
        '1mbit',
        'burst',
        '10kb',
        'latency',
        '25ms',
      ])
    )
      return 'sch_tbf';
    if (!run(['tc', 'qdisc', 'add', 'dev', 'pa', 'handle', 'ffff:', 'ingress'])) return 'sch_ingress';
    const filter = [
      'tc',
      'filter',
      'add',
      'dev',
      'pa',
      'parent',
      'ffff:',
      'protocol',
      'all',
      'prio',
      '1',
      'u32',
      'match',
      'u32',
      '0',
      '0',
    ];
    if (!run(filter)) return 'cls_u32';
    if (
      !run([
        'tc',
        'filter',
        'replace',
        'dev',
        'pa',
        'parent',
        'ffff:',
        'protocol',
        'all',
        'prio',
        '2',
        'u32',
        'match',
        'u32',
        '0',
        '0',
        'action',
        'mirred',
        'egress',
        'redirect',
        'dev',
        'pifb',
      ])
    )
      return 'act_mirred';
    return undefined;
  } finally {
    spawnSync('ip', ['netns', 'delete', ns]);
  }
}

export const iperfMissing = (): boolean => spawnSync('iperf3', ['--version']).error !== undefined;

export interface Attachment {
  cid: string;
  pod: string;
  /** The bridge plugin's result: the prevResult bandwidth gets. */
  result: any;
  ip: string;
}

/** Pods on one bridge in the test node, wired by the reference bridge + host-local (IPAM state under node.tmp). */
export class BridgeNet {
  readonly netName = 'bwnet';
  private readonly conf: Record<string, unknown>;

  constructor(
    private readonly node: TestNode,
    subnet = '10.77.0.0/24',
  ) {
    this.conf = {
      cniVersion: '1.0.0',
      name: this.netName,
      type: 'bridge',
      bridge: 'cnibw0',
      isGateway: true,
      ipam: { type: 'host-local', subnet, dataDir: join(node.tmp, 'ipam') },
    };
  }

  env(command: string, cid: string, pod: string, extra: Record<string, string> = {}) {
    return {
      CNI_COMMAND: command,
      CNI_CONTAINERID: cid,
      CNI_NETNS: pod,
      CNI_IFNAME: 'eth0',
      CNI_PATH: `${DIST_BIN}:${REFERENCE_BIN}`,
      ...extra,
    };
  }

  async attach(tag = 'c'): Promise<Attachment> {
    const cid = uniqueName(tag);
    const pod = this.node.addPod();
    const r = await this.node.runPlugin(
      join(REFERENCE_BIN, 'bridge'),
      { ...this.env('ADD', cid, pod), CNI_PATH: REFERENCE_BIN },
      this.conf,
    );
    if (r.code !== 0) throw new Error(`bridge ADD failed: ${r.stdout}${r.stderr}`);
    return { cid, pod, result: r.json, ip: r.json.ips[0].address.split('/')[0] };
  }

  async detach(a: Attachment): Promise<void> {
    await this.node.runPlugin(
      join(REFERENCE_BIN, 'bridge'),
      { ...this.env('DEL', a.cid, a.pod), CNI_PATH: REFERENCE_BIN },
      { ...this.conf, prevResult: a.result },
    );
  }

  /** The host end of the attachment's veth (the result's interface without a sandbox that is not the bridge). */
  hostVeth(a: Attachment): string {
    return a.result.interfaces.find((i: { name: string; sandbox?: string }) => !i.sandbox && i.name.startsWith('veth'))
      .name;
  }
}

export interface QdiscShown {
  kind: string;
  handle: string;
  root?: boolean;
  dev?: string;
  options?: Record<string, unknown>;
}

export const qdiscs = (node: TestNode, dev: string): QdiscShown[] =>
  JSON.parse(node.exec('tc', ['-j', 'qdisc', 'show', 'dev', dev]) || '[]');
export const allQdiscs = (node: TestNode): QdiscShown[] => JSON.parse(node.exec('tc', ['-j', 'qdisc', 'show']) || '[]');
export const filters = (node: TestNode, dev: string): any[] =>
  JSON.parse(node.exec('tc', ['-j', 'filter', 'show', 'dev', dev, 'parent', 'ffff:']) || '[]');
export const linkIn = (node: TestNode, dev: string): any =>
  JSON.parse(node.exec('ip', ['-j', '-d', 'link', 'show', 'dev', dev], { allowFail: true }) || '[]')[0];

/**
 * TCP throughput in bit/s measured by the receiver: iperf3 server in `server`, client in `client`;
 * `reverse` makes the server send. The first second (slow start, the bucket's burst) is omitted.
 */
export async function iperf(
  server: string,
  client: string,
  serverIp: string,
  reverse: boolean,
  seconds = 3,
): Promise<number> {
  const srv = spawn(
    'nsenter',
    [`--net=${server}`, '--', 'iperf3', '-s', '-1', '--forceflush', '-B', serverIp, '-p', '5201'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      // Never wait forever: a test timeout would skip the finally that kills the server.
      const timer = setTimeout(() => reject(new Error(`iperf3 server did not start: ${out}`)), 5000);
      srv.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('Server listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      srv.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`iperf3 server exited (${code}): ${out}`));
      });
    });
    const args = [
      '-c',
      serverIp,
      '-p',
      '5201',
      '--connect-timeout',
      '3000',
      '-t',
      String(seconds),
      '-O',
      '1',
      '-J',
      ...(reverse ? ['-R'] : []),
    ];
    const report = JSON.parse(sh('nsenter', [`--net=${client}`, '--', 'iperf3', ...args]));
    return report.end.sum_received.bits_per_second as number;
  } finally {
    srv.kill('SIGKILL');
  }
}
