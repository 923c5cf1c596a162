import type { Socket } from 'node:dgram';
import { exchange, newXid, sendOnly } from './exchange';
import { MessageType, Opt, encode, ipToBuffer, messageType, type Packet } from './packet';

/** One attachment's DHCP identity and its socket in the pod's namespace. */
export interface ClientContext {
  sock: Socket;
  mac: string;
  clientID: string;
  request: number[];
  provide: [number, string][];
  /** Ask servers to broadcast replies even when we hold an address (`-broadcast`). */
  broadcast: boolean;
  timeoutMs: number;
}

export type Reply = { ack: Packet } | { nak: string } | undefined;

const BROADCAST = '255.255.255.255';

function message(
  ctx: ClientContext,
  type: number,
  fields: { ciaddr?: string; broadcast: boolean; extra?: [number, Buffer][]; xid?: number },
): Packet {
  const options = new Map<number, Buffer>();
  options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  options.set(Opt.CLIENT_ID, Buffer.concat([Buffer.from([0]), Buffer.from(ctx.clientID)]));
  for (const [code, value] of fields.extra ?? []) options.set(code, value);
  if (type === MessageType.DISCOVER || type === MessageType.REQUEST) {
    for (const [code, value] of ctx.provide) options.set(code, Buffer.from(value));
    if (ctx.request.length) options.set(Opt.PARAM_REQUEST_LIST, Buffer.from(ctx.request));
  }
  return {
    op: 1,
    xid: fields.xid ?? newXid(),
    secs: 0,
    broadcast: fields.broadcast,
    ciaddr: fields.ciaddr ?? '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: ctx.mac,
    options,
  };
}

const send = (ctx: ClientContext, pkt: Packet, dst: string, types: number[]) =>
  exchange(ctx.sock, pkt, encode(pkt), dst, types, ctx.timeoutMs);

function toReply(p: Packet | undefined): Reply {
  if (!p) return undefined;
  if (messageType(p) === MessageType.NAK)
    return { nak: p.options.get(Opt.MESSAGE)?.toString() || 'DHCP server sent NAK' };
  return { ack: p };
}

/**
 * INIT → SELECTING → REQUESTING: DISCOVER, take the first OFFER, REQUEST it. Replies are always asked
 * to be broadcast: the interface has no address yet, so the kernel would drop a unicast reply.
 */
export async function discoverAndRequest(ctx: ClientContext): Promise<Reply> {
  const discover = message(ctx, MessageType.DISCOVER, { broadcast: true });
  const offer = await send(ctx, discover, BROADCAST, [MessageType.OFFER]);
  if (!offer) return undefined;
  const serverID = offer.options.get(Opt.SERVER_ID);
  const extra: [number, Buffer][] = [[Opt.REQUESTED_IP, ipToBuffer(offer.yiaddr)]];
  if (serverID) extra.push([Opt.SERVER_ID, serverID]);
  const request = message(ctx, MessageType.REQUEST, { broadcast: true, extra, xid: discover.xid });
  return toReply(await send(ctx, request, BROADCAST, [MessageType.ACK, MessageType.NAK]));
}

/** RENEWING (T1): unicast REQUEST to the server that granted the lease, ciaddr = our address. */
export async function renew(ctx: ClientContext, ip: string, serverID: string): Promise<Reply> {
  const pkt = message(ctx, MessageType.REQUEST, { ciaddr: ip, broadcast: ctx.broadcast });
  return toReply(await send(ctx, pkt, serverID, [MessageType.ACK, MessageType.NAK]));
}

/** REBINDING (T2): the same REQUEST broadcast to any server. */
export async function rebind(ctx: ClientContext, ip: string): Promise<Reply> {
  const pkt = message(ctx, MessageType.REQUEST, { ciaddr: ip, broadcast: ctx.broadcast });
  return toReply(await send(ctx, pkt, BROADCAST, [MessageType.ACK, MessageType.NAK]));
}

/** DHCPRELEASE to the server (`dst` is its address, or the broadcast address when it cannot be reached); no reply. */
export async function release(ctx: ClientContext, ip: string, serverID: string, dst = serverID): Promise<void> {
  const pkt = message(ctx, MessageType.RELEASE, {
    ciaddr: ip,
    broadcast: false,
    extra: [[Opt.SERVER_ID, ipToBuffer(serverID)]],
  });
  await sendOnly(ctx.sock, encode(pkt), dst);
}

export const BROADCAST_ADDRESS = BROADCAST;
