/**
 * A long-lived TCP prober inside a pod's namespace: each `probe` opens a new connection (host:port,
 * short timeout) and reports whether the server answered. No process start per probe, so a probe's
 * start time is when its SYN leaves, and "when did the policy take effect" can be measured in ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const SCRIPT = `
const net = require('node:net');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const [id, host, port, timeout] = line.split(' ');
  const s = net.connect({ host, port: Number(port) });
  let out = '', done = false;
  const finish = (ok) => { if (done) return; done = true; clearTimeout(t); s.destroy(); process.stdout.write(id + ' ' + (ok ? 'ok' : 'no') + '\\n'); };
  const t = setTimeout(() => finish(false), Number(timeout));
  s.on('data', (d) => (out += d));
  s.on('end', () => finish(out.length > 0));
  s.on('error', () => finish(false));
});
process.stdout.write('ready\\n');
`;

export class Prober {
  private next = 0;
  private readonly waiting = new Map<string, (ok: boolean) => void>();
  private constructor(private readonly child: ChildProcess) {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const [id, verdict] = buf.slice(0, i).split(' ');
        buf = buf.slice(i + 1);
        this.waiting.get(id)?.(verdict === 'ok');
        this.waiting.delete(id);
      }
    });
  }

  static start(netns: string): Promise<Prober> {
    const child = spawn('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', SCRIPT], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    return new Promise((resolve, reject) => {
      child.stdout!.once('data', () => resolve(new Prober(child)));
      child.once('exit', (code) => reject(new Error(`prober in ${netns} exited ${code}`)));
    });
  }

  /** Whether a new connection to host:port is answered within timeoutMs. */
  probe(host: string, port: number, timeoutMs = 250): Promise<boolean> {
    const id = String(this.next++);
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin!.write(`${id} ${host} ${port} ${timeoutMs}\n`);
    });
  }

  /**
   * Probes until a new connection has the wanted outcome; returns the ms from `since` to the start of
   * that probe (Infinity when it never came within limitMs).
   */
  async timeUntil(host: string, port: number, want: boolean, since: number, limitMs = 5000): Promise<number> {
    while (Date.now() - since < limitMs) {
      const start = Date.now();
      if ((await this.probe(host, port)) === want) return start - since;
      await new Promise((r) => setTimeout(r, 10));
    }
    return Infinity;
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}
