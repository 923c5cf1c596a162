/**
 * Test fixtures: a "LAN" namespace wired to the node by a veth pair (the node end, `uplink`, is the
 * macvlan master), a DHCP server on the LAN side, and the lease daemon running in the node namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { sh, type TestNode } from '@tscni/testing/node';

/** The DHCP client ID dnsmasq logs for a container ID (type 0 followed by the ID's bytes). */
export const hexClientID = (id: string): string =>
  ['00', ...[...Buffer.from(id)].map((b) => b.toString(16).padStart(2, '0'))].join(':');

/** Polls `fn` every 100 ms until it returns something truthy. */
export async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const SERVER_IP = '10.77.0.1';
export const UPLINK = 'uplink';
/** A second segment for bridge attachments: bridge `brlan` in the node, its uplink port to the LAN's `srvb`. */
export const BRIDGE = 'brlan';
export const BRIDGE_SERVER_IP = '10.78.0.1';

export class Lan {
  readonly netns: string;
  private procs: ChildProcess[] = [];
  leaseFile = '';

  constructor(readonly node: TestNode) {
    this.netns = node.addPod('lan');
    sh('ip', ['link', 'add', 'srv0', 'type', 'veth', 'peer', 'name', UPLINK, 'netns', node.name], {
      netns: this.netns,
    });
    sh('ip', ['-batch', '-'], {
      netns: this.netns,
      input: `link set lo up\nlink set srv0 up\naddr add ${SERVER_IP}/24 dev srv0\nroute add 255.255.255.255/32 dev srv0\n`,
    });
    node.exec('ip', ['link', 'set', UPLINK, 'up']);
    sh('ip', ['link', 'add', 'srvb', 'type', 'veth', 'peer', 'name', 'upb', 'netns', node.name], { netns: this.netns });
    sh('ip', ['-batch', '-'], {
      netns: this.netns,
      input: `link set srvb up\naddr add ${BRIDGE_SERVER_IP}/24 dev srvb\n`,
    });
    node.exec('ip', ['-batch', '-'], {
      input: `link add ${BRIDGE} type bridge\nlink set upb master ${BRIDGE}\nlink set upb up\nlink set ${BRIDGE} up\n`,
    });
  }

  /** dnsmasq serving 10.77.0.100-150 on srv0 and 10.78.0.100-150 on srvb (no ping probe: offers come at once). */
  async startDnsmasq(tag: string, extra: string[] = []): Promise<ChildProcess> {
    this.leaseFile = join(this.node.tmp, `dnsmasq-${tag}.leases`);
    const args = [
      `--net=${this.netns}`,
      '--',
      'dnsmasq',
      '--no-daemon',
      '--conf-file=/dev/null',
      '--interface=srv0',
      '--bind-interfaces',
      '--port=0',
      '--user=root',
      '--no-ping',
      '--log-dhcp',
      '--dhcp-authoritative',
      '--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,2m',
      '--interface=srvb',
      '--dhcp-range=10.78.0.100,10.78.0.150,255.255.255.0,2m',
      `--dhcp-leasefile=${this.leaseFile}`,
      `--dhcp-option=tag:srv0,option:router,${SERVER_IP}`,
      `--dhcp-option=tag:srvb,option:router,${BRIDGE_SERVER_IP}`,
      ...extra,
    ];
    return this.start('nsenter', args, /started, version/);
  }

  /** Our scripted responder (fast lease times); commands go to its stdin, events come back as JSON lines. */
  async startResponder(opts: Record<string, unknown>): Promise<Responder> {
    const script = join(import.meta.dirname, 'fixtures/responder.mjs');
    const proc = await this.start(
      'nsenter',
      [`--net=${this.netns}`, '--', process.execPath, script, JSON.stringify(opts)],
      /listening/,
    );
    return new Responder(proc);
  }

  /** dnsmasq's lease file as [expiry, mac, ip, hostname, clientID] rows. */
  leases(): string[][] {
    if (!existsSync(this.leaseFile)) return [];
    return readFileSync(this.leaseFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '));
  }

  private start(cmd: string, args: string[], ready: RegExp): Promise<ChildProcess> {
    const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.procs.push(proc);
    return waitForOutput(proc, ready, 5000).then(() => proc);
  }

  stopServers(): void {
    for (const p of this.procs) stop(p);
    this.procs = [];
  }
}

/** The scripted responder's controls and what it has seen. */
export class Responder {
  events: { type: string; [k: string]: unknown }[] = [];
  constructor(readonly proc: ChildProcess) {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        try {
          this.events.push(JSON.parse(buf.slice(0, nl)));
        } catch {
          /* not an event */
        }
        buf = buf.slice(nl + 1);
      }
    });
  }

  /** `answer` | `silent` | `nak` | `ignore-unicast` */
  mode(mode: string): void {
    this.proc.stdin!.write(`${mode}\n`);
  }

  async waitFor(
    pred: (e: Responder['events'][number]) => boolean,
    timeoutMs: number,
  ): Promise<Responder['events'][number]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.find(pred);
      if (e) return e;
      if (Date.now() > deadline)
        throw new Error(`responder: event not seen; got ${JSON.stringify(this.events.map((x) => x.type))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The lease daemon (ours or the reference), running in the node namespace on a socket under node.tmp. */
export class Daemon {
  proc!: ChildProcess;
  log = '';
  constructor(
    readonly node: TestNode,
    readonly bin: string,
    readonly socketPath: string,
    readonly extraArgs: string[] = [],
  ) {}

  async start(): Promise<void> {
    this.log = '';
    this.proc = spawn(
      'nsenter',
      [`--net=${this.node.path}`, '--', this.bin, 'daemon', '-socketpath', this.socketPath, ...this.extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc.stdout!.on('data', (d) => (this.log += d));
    this.proc.stderr!.on('data', (d) => (this.log += d));
    // Until it accepts a connection, not until the file exists: bind(2) makes the file before listen(2).
    const deadline = Date.now() + 5000;
    while (!(existsSync(this.socketPath) && (await accepts(this.socketPath)))) {
      if (Date.now() > deadline || this.proc.exitCode !== null) throw new Error(`daemon did not start: ${this.log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  /** What the daemon process costs, from /proc: resident memory (kB), threads, open fds, child processes. */
  usage(): { rssKb: number; threads: number; fds: number; children: number } {
    const status = readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    const children = readFileSync(`/proc/${this.proc.pid}/task/${this.proc.pid}/children`, 'utf8').trim();
    return {
      rssKb: field('VmRSS'),
      threads: field('Threads'),
      fds: readdirSync(`/proc/${this.proc.pid}/fd`).length,
      children: children ? children.split(' ').length : 0,
    };
  }
}

function stop(p: ChildProcess): void {
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
}

function waitForOutput(proc: ChildProcess, re: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`not ready: ${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d;
      if (re.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${out}`));
    });
  });
}

/** Whether a unix socket takes a connection now (closed again at once). */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
