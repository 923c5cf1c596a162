/**
 * Real traffic for kernel tests: a tiny TCP server inside a namespace that answers every connection
 * with `<tag> <peer address>` (so a test sees who answered and whether the source was NATed), and a
 * client that connects from another namespace. Plain node processes, no shell.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

const SERVER = `
const net = require('node:net');
const [port, tag] = process.argv.slice(1);
const srv = net.createServer((s) => { s.end(tag + ' ' + s.remoteAddress.replace(/^::ffff:/, '') + '\\n'); });
srv.listen({ port: Number(port), host: '::', ipv6Only: false }, () => process.stdout.write('ready\\n'));
`;

const CLIENT = `
const net = require('node:net');
const [host, port, timeout] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), timeout: Number(timeout) });
let out = '';
s.on('data', (d) => (out += d));
s.on('end', () => { process.stdout.write(out); process.exit(0); });
s.on('timeout', () => { process.stderr.write('timeout'); process.exit(2); });
s.on('error', (e) => { process.stderr.write(e.code || e.message); process.exit(3); });
`;

const UDP_SEND = `
const s = require('node:dgram').createSocket(process.argv[1].includes(':') ? 'udp6' : 'udp4');
s.send('x', Number(process.argv[2]), process.argv[1], () => s.close());
`;

export interface TcpServer {
  close(): void;
}

/** Start a TCP server on `port` (all addresses) inside `netns`; resolves once it listens. */
export function startTcpServer(netns: string, port: number, tag: string): Promise<TcpServer> {
  const child: ChildProcess = spawn(
    'nsenter',
    [`--net=${netns}`, '--', process.execPath, '-e', SERVER, String(port), tag],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.once('data', () => resolve({ close: () => void child.kill('SIGKILL') }));
    child.once('exit', (code) => reject(new Error(`server in ${netns} exited (${code}): ${err}`)));
  });
}

/** Connect from `netns` to host:port; the server's answer (`<tag> <peer>`), or `error: <why>`. */
export function tcpRequest(netns: string, host: string, port: number, timeoutMs = 2000): string {
  const r = spawnSync(
    'nsenter',
    [`--net=${netns}`, '--', process.execPath, '-e', CLIENT, host, String(port), String(timeoutMs)],
    { encoding: 'utf8', timeout: timeoutMs + 3000 },
  );
  return r.status === 0 ? r.stdout.trim() : `error: ${r.stderr.trim() || r.status}`;
}

/** Send one UDP datagram from `netns` (creates a conntrack entry). */
export function udpSend(netns: string, host: string, port: number): void {
  spawnSync('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', UDP_SEND, host, String(port)], {
    timeout: 5000,
  });
}
