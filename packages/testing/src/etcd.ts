/**
 * A single etcd member for the agent's own tests, on 127.0.0.1 at a free high port, data in a temp dir,
 * killed with the test runner (setpriv --pdeathsig). Optionally with TLS (a CA and server/client
 * certificates made by openssl, and a foreign CA's certificate etcd refuses) for the etcd TLS flags.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tls {
  ca: string;
  cert: string;
  key: string;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA named `name` and one certificate it signs for 127.0.0.1 (server and client use). */
function makeTls(dir: string, name: string): Tls {
  const p = (n: string) => join(dir, `${name}-${n}`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=tscni-test-${name}-ca`,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
  ]);
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    p('node.key'),
    '-out',
    p('node.csr'),
  ]);
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl([
    'x509',
    '-req',
    '-in',
    p('node.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    p('ext.cnf'),
    '-out',
    p('node.crt'),
  ]);
  return { ca: p('ca.crt'), cert: p('node.crt'), key: p('node.key') };
}

export class LocalEtcd {
  private constructor(
    readonly endpoint: string,
    readonly tls: Tls | undefined,
    /** With TLS: a CA etcd does not trust and a certificate it signed (a client etcd must refuse). */
    readonly foreign: Tls | undefined,
    private readonly proc: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(opts: { tls?: boolean } = {}): Promise<LocalEtcd> {
    const dir = mkdtempSync(join(tmpdir(), 'tscni-etcd-'));
    const tls = opts.tls ? makeTls(dir, 'cluster') : undefined;
    const foreign = opts.tls ? makeTls(dir, 'foreign') : undefined;
    const [client, peer] = [await freePort(), await freePort()];
    const scheme = tls ? 'https' : 'http';
    const endpoint = `${scheme}://127.0.0.1:${client}`;
    const args = [
      '--name',
      'solo',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      endpoint,
      '--advertise-client-urls',
      endpoint,
    ];
    args.push(
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `solo=http://127.0.0.1:${peer}`,
    );
    if (tls)
      args.push('--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, '--client-cert-auth');
    const proc = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'etcd', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    proc.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-10_000)));
    const etcd = new LocalEtcd(endpoint, tls, foreign, proc, dir);
    const deadline = Date.now() + 20_000;
    while (!/ready to serve client requests/.test(log)) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        await etcd.stop();
        throw new Error(`etcd did not start:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return etcd;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const done = new Promise((r) => this.proc.once('close', r));
      this.proc.kill('SIGKILL');
      await done;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
