/**
 * A real etcd cluster for the multinode suites: each member the Debian `etcd` binary in a namespace of
 * its own, plugged into the underlay (198.18.0.<100 + n>), data in a temporary dir. Members run under
 * `setpriv --pdeathsig SIGKILL`, so a test runner that dies takes them along; `stop()` kills them and
 * removes their namespaces and data either way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TestNode, sh } from '@tscni/testing/node';
import type { Underlay } from './underlay';

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

export interface EtcdMember {
  name: string;
  node: TestNode;
  ip: string;
  proc?: ChildProcess;
  log: string;
}

export class EtcdCluster {
  private constructor(
    readonly members: EtcdMember[],
    private readonly token: string,
  ) {}

  /** Start `size` members on `underlay` and wait until the cluster answers. */
  static async start(underlay: Underlay, size = 3): Promise<EtcdCluster> {
    const members: EtcdMember[] = [];
    const cluster = new EtcdCluster(members, `tscni-e2e-${process.pid}-${Date.now()}`);
    try {
      for (let i = 0; i < size; i++) {
        const node = new TestNode(`e${i}`);
        members.push({ name: `m${i}`, node, ip: underlay.attach(node, 90 + i), log: '' });
      }
      for (const m of members) cluster.spawn(m);
      await cluster.waitHealthy();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  get endpoints(): string[] {
    return this.members.map((m) => `http://${m.ip}:${CLIENT_PORT}`);
  }

  private spawn(m: EtcdMember): void {
    const initial = this.members.map((x) => `${x.name}=http://${x.ip}:${PEER_PORT}`).join(',');
    const args = [
      '--name',
      m.name,
      '--data-dir',
      join(m.node.tmp, 'data'),
      '--listen-client-urls',
      `http://${m.ip}:${CLIENT_PORT}`,
      '--advertise-client-urls',
      `http://${m.ip}:${CLIENT_PORT}`,
      '--listen-peer-urls',
      `http://${m.ip}:${PEER_PORT}`,
      '--initial-advertise-peer-urls',
      `http://${m.ip}:${PEER_PORT}`,
      '--initial-cluster',
      initial,
      '--initial-cluster-token',
      this.token,
      '--initial-cluster-state',
      'new',
      // Quick elections: the suite kills a member and expects the rest to carry on within seconds.
      '--heartbeat-interval',
      '200',
      '--election-timeout',
      '2000',
    ];
    m.proc = spawn(
      'nsenter',
      [`--net=${m.node.path}`, '--', 'setpriv', '--pdeathsig', 'SIGKILL', '--', 'etcd', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    m.proc.stderr!.on('data', (d: Buffer) => (m.log = (m.log + d.toString()).slice(-20_000)));
  }

  /**
   * `etcdctl` against the live members (run in the first live member's namespace); retried a few times
   * when the cluster is momentarily without a leader (a member just killed, a loaded machine).
   */
  etcdctl(args: string[], input?: string): string {
    const live = this.members.filter((m) => m.proc && m.proc.exitCode === null && m.proc.signalCode === null);
    const eps = live.map((m) => `http://${m.ip}:${CLIENT_PORT}`).join(',');
    for (let attempt = 1; ; attempt++) {
      try {
        return sh('etcdctl', ['--endpoints', eps, '--dial-timeout', '3s', '--command-timeout', '5s', ...args], {
          netns: live[0].node.path,
          input,
        });
      } catch (err) {
        if (
          attempt >= 4 ||
          !/deadline exceeded|unavailable|connection refused|leader|timed? ?out/i.test((err as Error).message)
        )
          throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
      }
    }
  }

  put(key: string, value: string): void {
    this.etcdctl(['put', key, value]);
  }

  /** Keys and values under a prefix. */
  getPrefix(prefix: string): Record<string, string> {
    const out = JSON.parse(this.etcdctl(['get', '--prefix', prefix, '-w', 'json'])) as {
      kvs?: { key: string; value: string }[];
    };
    const b64 = (s: string) => Buffer.from(s, 'base64').toString();
    return Object.fromEntries((out.kvs ?? []).map((kv) => [b64(kv.key), b64(kv.value)]));
  }

  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        this.etcdctl(['endpoint', 'health', '--cluster']);
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(
            `etcd cluster not healthy: ${(err as Error).message}\n${this.members.map((m) => m.log.slice(-2000)).join('\n')}`,
          );
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }

  /** SIGKILL one member (a lost machine). */
  async kill(index: number): Promise<void> {
    const p = this.members[index].proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('close', r));
    p.kill('SIGKILL');
    await exited;
  }

  /** Start a killed member again on its data dir (it rejoins the cluster). */
  restart(index: number): void {
    this.spawn(this.members[index]);
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i);
    for (const m of this.members) m.node.destroy();
  }
}
