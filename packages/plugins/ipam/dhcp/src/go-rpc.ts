/**
 * Go's net/rpc over HTTP, as `rpc.DialHTTP` / `rpc.HandleHTTP` speak it: the client sends
 * `CONNECT /_goRPC_ HTTP/1.0\n\n`, the server answers `HTTP/1.0 200 Connected to Go RPC\n\n`, then each call is
 * a gob `Request{ServiceMethod, Seq}` and the argument, each reply a gob `Response{ServiceMethod, Seq, Error}`
 * and the result (an empty struct when Error is set). One gob stream per direction for the connection's life.
 * The client waits for the HTTP answer before sending: Go's server drops bytes that arrive with the CONNECT.
 */
import { connect, type Socket } from 'node:net';
import { GobDecoder, GobEncoder, MAX_MESSAGE, slice, struct, type GobType } from './gob';
import type { LeaseInfo, WireCmdArgs } from './rpc';

export const RPC_PATH = '/_goRPC_';
const CONNECTED = '200 Connected to Go RPC';

const RequestType = struct('Request', [
  ['ServiceMethod', 'string'],
  ['Seq', 'uint'],
]);
const ResponseType = struct('Response', [
  ['ServiceMethod', 'string'],
  ['Seq', 'uint'],
  ['Error', 'string'],
]);
export const CmdArgsType = struct('CmdArgs', [
  ['ContainerID', 'string'],
  ['Netns', 'string'],
  ['IfName', 'string'],
  ['Args', 'string'],
  ['Path', 'string'],
  ['StdinData', 'bytes'],
]);
/** net.IPNet: net.IP and net.IPMask are plain []byte in gob. */
const IPNetType = struct('IPNet', [
  ['IP', 'bytes'],
  ['Mask', 'bytes'],
]);
const IPConfigType = struct('IPConfig', [
  ['Interface', 'int'],
  ['Address', IPNetType],
  ['Gateway', 'bytes'],
]);
const RouteType = struct('Route', [
  ['Dst', IPNetType],
  ['GW', 'bytes'],
]);
/** current.Result, with the fields the daemon fills (the receiver ignores the rest). */
export const ResultType = struct('Result', [
  ['CNIVersion', 'string'],
  ['IPs', slice('[]*current.IPConfig', IPConfigType)],
  ['Routes', slice('[]*types.Route', RouteType)],
]);
export const EmptyType = struct('struct {}', []);

type Decoded = Record<string, unknown>;

/** An error the daemon returned (Go's rpc.ServerError): the call reached it. */
export class ServerError extends Error {}

/** One call on a fresh connection; connection problems reject with the socket's error. */
export function goRpcCall(socketPath: string, method: string, args: WireCmdArgs): Promise<Decoded> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const dec = new GobDecoder();
    let head: Buffer | undefined = Buffer.alloc(0);
    let header: Decoded | undefined;
    const fail = (err: Error) => (sock.destroy(), reject(err));
    sock.on('connect', () => sock.write(`CONNECT ${RPC_PATH} HTTP/1.0\n\n`));
    sock.on('data', (chunk: Buffer) => {
      try {
        if (head) {
          head = Buffer.concat([head, chunk]);
          const end = headerEnd(head);
          if (end < 0) return void (head.length > 4096 && fail(new Error('unexpected HTTP response')));
          const status = head
            .subarray(0, end)
            .toString('latin1')
            .split(/\r?\n/)[0]
            .replace(/^HTTP\/1\.[01] /, '');
          if (status !== CONNECTED)
            return fail(Object.assign(new Error(`unexpected HTTP response: ${status}`), { code: 'EHTTP' }));
          const rest = head.subarray(end + (head[end] === 13 ? 4 : 2));
          head = undefined;
          const enc = new GobEncoder();
          sock.write(
            Buffer.concat([
              enc.encode(RequestType, { ServiceMethod: method, Seq: 0 }),
              enc.encode(CmdArgsType, { ...args }),
            ]),
          );
          chunk = rest;
        }
        dec.push(chunk);
        header ??= dec.next();
        const body = header && dec.next();
        if (!header || !body) return;
        sock.end();
        if (header.Error) reject(new ServerError(String(header.Error)));
        else resolve(body);
      } catch (err) {
        fail(err as Error);
      }
    });
    sock.on('error', reject);
    sock.on('end', () => reject(new ServerError('unexpected EOF')));
  });
}

/** A reply: a result of `type`, or the error text sent back to the caller. */
export type Reply = { type: GobType; value: Decoded } | { error: string };

/** Serves one connection: the HTTP CONNECT handshake, then calls until the client closes. */
export function serveGoRpc(conn: Socket, handle: (method: string, args: Decoded) => Promise<Reply>): void {
  const dec = new GobDecoder();
  const enc = new GobEncoder();
  let head: Buffer | undefined = Buffer.alloc(0);
  let header: Decoded | undefined;
  let buffered = 0;
  conn.on('error', () => {});
  conn.on('data', (chunk: Buffer) => {
    try {
      if (head) {
        head = Buffer.concat([head, chunk]);
        const end = headerEnd(head);
        if (end < 0) return void (head.length > 4096 && conn.destroy());
        const [verb, path] = head.subarray(0, end).toString('latin1').split(/\r?\n/)[0].split(' ');
        if (verb !== 'CONNECT') return void conn.end(httpText('405 Method Not Allowed', '405 must CONNECT\n'));
        if (path !== RPC_PATH) return void conn.end(httpText('404 Not Found', '404 page not found\n'));
        conn.write(`HTTP/1.0 ${CONNECTED}\n\n`);
        chunk = head.subarray(end + (head[end] === 13 ? 4 : 2));
        head = undefined;
      }
      buffered += chunk.length;
      if (buffered > MAX_MESSAGE) return void conn.destroy();
      dec.push(chunk);
      for (;;) {
        header ??= dec.next();
        const body = header && dec.next();
        if (!header || !body) return;
        const { ServiceMethod = '', Seq = 0 } = header as { ServiceMethod?: string; Seq?: number };
        header = undefined;
        buffered = 0;
        void handle(String(ServiceMethod), body).then((reply) => {
          if (conn.destroyed) return;
          const error = 'error' in reply ? reply.error || 'unknown error' : '';
          const res = enc.encode(ResponseType, { ServiceMethod, Seq, Error: error });
          conn.write(
            Buffer.concat([res, 'error' in reply ? enc.encode(EmptyType, {}) : enc.encode(reply.type, reply.value)]),
          );
        });
      }
    } catch {
      conn.destroy();
    }
  });
}

/** A plain-text HTTP/1.0 answer, as Go's http server writes it for rpc.HandleHTTP's refusals. */
const httpText = (status: string, body: string): string =>
  `HTTP/1.0 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/** Index of the blank line ending the HTTP head (`\n\n` from Go, `\r\n\r\n` from others), or -1. */
function headerEnd(buf: Buffer): number {
  const lf = buf.indexOf('\n\n');
  const crlf = buf.indexOf('\r\n\r\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf;
  return lf >= 0 ? lf : -1;
}

const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));

/** What our daemon's lease becomes on the wire: current.Result{IPs: [{Address, Gateway}], Routes}. */
export function leaseToResult(lease: LeaseInfo): Decoded {
  const ipnet = (cidr: string) => {
    const [ip, prefix] = cidr.split('/');
    const mask = Buffer.alloc(4);
    mask.writeUInt32BE(Number(prefix) === 0 ? 0 : (0xffffffff << (32 - Number(prefix))) >>> 0);
    return { IP: ipBytes(ip), Mask: mask };
  };
  return {
    IPs: [{ Address: ipnet(lease.address), ...(lease.gateway ? { Gateway: ipBytes(lease.gateway) } : {}) }],
    Routes: lease.routes.map((r) => ({ Dst: ipnet(r.dst), ...(r.gw ? { GW: ipBytes(r.gw) } : {}) })),
  };
}

/** A current.Result from a daemon (the reference's or ours) as our lease shape; undefined without an address. */
export function resultToLease(result: Decoded): LeaseInfo | undefined {
  const ips = (result.IPs as Decoded[] | undefined) ?? [];
  const first = ips[0];
  const address = first && ipnetText(first.Address as Decoded | undefined);
  if (!address) return undefined;
  const gateway = ipText(first.Gateway as Buffer | undefined);
  const routes = ((result.Routes as Decoded[] | undefined) ?? []).flatMap((r) => {
    const dst = ipnetText(r.Dst as Decoded | undefined);
    const gw = ipText(r.GW as Buffer | undefined);
    return dst ? [{ dst, ...(gw ? { gw } : {}) }] : [];
  });
  return { address, ...(gateway ? { gateway } : {}), routes };
}

function ipText(b: Buffer | undefined): string | undefined {
  if (!b?.length) return undefined;
  const v4mapped = b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (b.length === 4 || v4mapped) return [...b.subarray(b.length - 4)].join('.');
  if (b.length !== 16) return undefined;
  return Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');
}

function ipnetText(n: Decoded | undefined): string | undefined {
  const ip = ipText(n?.IP as Buffer | undefined);
  if (!ip) return undefined;
  const mask = (n?.Mask as Buffer | undefined) ?? Buffer.alloc(0);
  const prefix = mask.length ? [...mask].reduce((acc, byte) => acc + popcount(byte), 0) : ip.includes(':') ? 128 : 32;
  return `${ip}/${prefix}`;
}

const popcount = (b: number): number => (b.toString(2).match(/1/g) ?? []).length;
