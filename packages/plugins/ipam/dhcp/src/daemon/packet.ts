/**
 * DHCPv4 messages (RFC 2131 / 2132): the fixed BOOTP header followed by the magic cookie and TLV options.
 */
export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MessageTypeName = keyof typeof MessageType;

export const Opt = {
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  STATIC_ROUTES: 33,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_REQUEST_LIST: 55,
  MESSAGE: 56,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  USER_CLASS: 77,
  CLASSLESS_ROUTES: 121,
  END: 255,
  PAD: 0,
} as const;

const BOOTREQUEST = 1;
const BOOTREPLY = 2;
const HEADER_LEN = 236;
const MAGIC = 0x63825363;
const BROADCAST_FLAG = 0x8000;

export interface Packet {
  op: 1 | 2;
  xid: number;
  secs: number;
  broadcast: boolean;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** Client hardware address, `aa:bb:cc:dd:ee:ff`. */
  chaddr: string;
  /** Options in the order they appear; a repeated code is concatenated (RFC 3396). */
  options: Map<number, Buffer>;
}

export function messageType(p: Packet): number | undefined {
  return p.options.get(Opt.MESSAGE_TYPE)?.[0];
}

export function encode(p: Packet): Buffer {
  const opts: Buffer[] = [];
  for (const [code, value] of p.options) {
    for (let off = 0; off < value.length || off === 0; off += 255) {
      const chunk = value.subarray(off, off + 255);
      opts.push(Buffer.from([code, chunk.length]), chunk);
      if (value.length === 0) break;
    }
  }
  opts.push(Buffer.from([Opt.END]));
  const head = Buffer.alloc(HEADER_LEN + 4);
  head[0] = p.op;
  head[1] = 1; // htype: ethernet
  head[2] = 6; // hlen
  head.writeUInt32BE(p.xid >>> 0, 4);
  head.writeUInt16BE(p.secs, 8);
  head.writeUInt16BE(p.broadcast ? BROADCAST_FLAG : 0, 10);
  ipToBuffer(p.ciaddr).copy(head, 12);
  ipToBuffer(p.yiaddr).copy(head, 16);
  ipToBuffer(p.siaddr).copy(head, 20);
  ipToBuffer(p.giaddr).copy(head, 24);
  macToBuffer(p.chaddr).copy(head, 28);
  head.writeUInt32BE(MAGIC, HEADER_LEN);
  const out = Buffer.concat([head, ...opts]);
  // Some relays and servers drop BOOTP messages shorter than 300 bytes.
  return out.length >= 300 ? out : Buffer.concat([out, Buffer.alloc(300 - out.length)]);
}

/** Decode a message, or undefined when it is not a well-formed DHCP message. */
export function decode(buf: Buffer): Packet | undefined {
  if (buf.length < HEADER_LEN + 4 || buf.readUInt32BE(HEADER_LEN) !== MAGIC) return undefined;
  const op = buf[0];
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return undefined;
  const options = new Map<number, Buffer>();
  let i = HEADER_LEN + 4;
  while (i < buf.length) {
    const code = buf[i++];
    if (code === Opt.PAD) continue;
    if (code === Opt.END) break;
    if (i >= buf.length) return undefined;
    const len = buf[i++];
    if (i + len > buf.length) return undefined;
    const value = buf.subarray(i, i + len);
    const prev = options.get(code);
    options.set(code, prev ? Buffer.concat([prev, value]) : Buffer.from(value));
    i += len;
  }
  return {
    op: op as 1 | 2,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    broadcast: (buf.readUInt16BE(10) & BROADCAST_FLAG) !== 0,
    ciaddr: bufferToIP(buf, 12),
    yiaddr: bufferToIP(buf, 16),
    siaddr: bufferToIP(buf, 20),
    giaddr: bufferToIP(buf, 24),
    chaddr: [...buf.subarray(28, 28 + Math.min(buf[2] || 6, 16))].map((b) => b.toString(16).padStart(2, '0')).join(':'),
    options,
  };
}

export function ipToBuffer(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255))
    throw new Error(`invalid IPv4 address ${JSON.stringify(ip)}`);
  return Buffer.from(parts);
}

export const bufferToIP = (buf: Buffer, off = 0): string =>
  `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;

function macToBuffer(mac: string): Buffer {
  const bytes = mac.split(':').map((h) => parseInt(h, 16));
  if (bytes.length !== 6 || bytes.some((b) => !(b >= 0 && b <= 255)))
    throw new Error(`invalid MAC address ${JSON.stringify(mac)}`);
  return Buffer.from(bytes);
}

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
