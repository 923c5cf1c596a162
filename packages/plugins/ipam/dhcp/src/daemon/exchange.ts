import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import { decode, messageType, type Packet } from './packet';

/**
 * Matching replies to requests. Client sockets share port 68 (SO_REUSEADDR), so a reply may arrive on
 * any socket of the namespace: every socket feeds one table keyed by transaction id, and a reply is taken
 * only by the request with its xid and client hardware address.
 */
interface Waiter {
  chaddr: string;
  types: number[];
  resolve(p: Packet | undefined): void;
}
const waiters = new Map<number, Waiter>();

export function listen(sock: Socket): void {
  sock.on('message', (buf: Buffer) => {
    const p = decode(buf);
    if (!p || p.op !== 2) return;
    const w = waiters.get(p.xid);
    const type = messageType(p);
    if (!w || w.chaddr !== p.chaddr || type === undefined || !w.types.includes(type)) return;
    waiters.delete(p.xid);
    w.resolve(p);
  });
  sock.on('error', () => {});
}

export const newXid = (): number => randomBytes(4).readUInt32BE(0);

/** Send `pkt` to `dst`:67 and wait up to `timeoutMs` for a reply of one of `types`; undefined on timeout. */
export function exchange(
  sock: Socket,
  pkt: Packet,
  bytes: Buffer,
  dst: string,
  types: number[],
  timeoutMs: number,
): Promise<Packet | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(pkt.xid);
      resolve(undefined);
    }, timeoutMs);
    waiters.set(pkt.xid, {
      chaddr: pkt.chaddr,
      types,
      resolve: (p) => {
        clearTimeout(timer);
        resolve(p);
      },
    });
    sock.send(bytes, 67, dst, (err) => {
      if (!err) return;
      clearTimeout(timer);
      waiters.delete(pkt.xid);
      reject(err);
    });
  });
}

/** Fire and forget (DHCPRELEASE). */
export const sendOnly = (sock: Socket, bytes: Buffer, dst: string): Promise<void> =>
  new Promise((resolve, reject) => sock.send(bytes, 67, dst, (err) => (err ? reject(err) : resolve())));
