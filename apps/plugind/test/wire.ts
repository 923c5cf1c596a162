/**
 * The shim's half of protocol v1 (docs/resident.md), written from the document for the tests: a request's bytes, a
 * call over the daemon's socket (one connection, the writing side shut after the request) and its answer decoded.
 */
import { statSync } from 'node:fs';
import { createConnection } from 'node:net';

const ownMntns = () => {
  const st = statSync('/proc/thread-self/ns/mnt');
  return `${st.dev}:${st.ino}`;
};

export interface WireRequest {
  plugin: string;
  fallback: string;
  netns: string;
  /** Default: the test process's own mount namespace (the daemon's, in these suites). */
  mntns?: string;
  env: Record<string, string>;
  stdin: string | Uint8Array;
}

export type Answer =
  | { kind: 'run'; code: number; stdout: Buffer; stderr: Buffer }
  | { kind: 'decline'; reason: string }
  | { kind: 'other'; bytes: Buffer };

const field = (s: string | Uint8Array) => Buffer.concat([Buffer.from(s), Buffer.of(0)]);

/** Magic, plugin, fallback, netns, mntns, the environment ended by an empty field, then stdin. */
export function encodeRequest(r: WireRequest, magic = 'tscni-plugind/1'): Buffer {
  return Buffer.concat([
    field(magic),
    field(r.plugin),
    field(r.fallback),
    field(r.netns),
    field(r.mntns ?? ownMntns()),
    ...Object.entries(r.env).map(([k, v]) => field(`${k}=${v}`)),
    Buffer.of(0),
    Buffer.from(r.stdin),
  ]);
}

export function decodeAnswer(bytes: Buffer): Answer {
  if (bytes[0] === 0x46) return { kind: 'decline', reason: bytes.subarray(1).toString('utf8') };
  if (bytes[0] === 0x52 && bytes.length >= 6) {
    const len = bytes.readUInt32LE(2);
    if (bytes.length >= 6 + len)
      return {
        kind: 'run',
        code: bytes[1],
        stdout: bytes.subarray(6, 6 + len),
        stderr: bytes.subarray(6 + len),
      };
  }
  return { kind: 'other', bytes };
}

/** One call: connect, write `request`, shut the writing side, read the answer to the end of the connection. */
export function call(socket: string, request: Uint8Array, timeoutMs = 60_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const c = createConnection({ path: socket, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(
      () => (c.destroy(), reject(new Error(`no answer on ${socket} in ${timeoutMs} ms`))),
      timeoutMs,
    );
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', (e) => (clearTimeout(timer), reject(e)));
    c.on('end', () => {
      clearTimeout(timer);
      c.end();
      resolve(decodeAnswer(Buffer.concat(chunks)));
    });
    c.end(request);
  });
}
