import { cString } from './text';

/**
 * Netlink messages as bytes: a builder for requests and a reader for replies (host byte order, little-endian).
 * Bytes by hand, no DataView: in the compiled executable every built-in's first use costs CPU (see ./text).
 */

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
const NLA_TYPE_MASK = 0x3fff;
const NLA_F_NESTED = 0x8000;

const align = (n: number): number => (n + 3) & ~3;

export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}
export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}
export const get16 = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8);
/** Signed; `>>> 0` for unsigned. */
export const get32 = (b: Uint8Array, at: number): number =>
  b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);

/** One request: the 16-byte header, a fixed family header (ifinfomsg, ifaddrmsg, rtmsg), then attributes. */
export class Request {
  private buf = new Uint8Array(256);
  private len = 16;

  constructor(
    readonly type: number,
    /** Flags beyond REQUEST/ACK/DUMP, which the socket adds (NLM_F_CREATE, NLM_F_EXCL). */
    readonly flags = 0,
  ) {}

  private grow(n: number): number {
    const at = this.len;
    const need = align(at + n);
    if (need > this.buf.length) {
      const next = new Uint8Array(need * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.len = need;
    return at;
  }

  /** The family header: `size` zero bytes, then 32-bit fields at their offsets (`bytes` writes single bytes). */
  header(size: number, u32s: number[] = [], bytes: number[] = []): this {
    const at = this.grow(size);
    for (let i = 0; i < u32s.length; i += 2) put32(this.buf, at + u32s[i], u32s[i + 1]);
    for (let i = 0; i < bytes.length; i += 2) this.buf[at + bytes[i]] = bytes[i + 1];
    return this;
  }

  attr(type: number, payload: Uint8Array): this {
    const at = this.grow(4 + payload.length);
    put16(this.buf, at, 4 + payload.length);
    put16(this.buf, at + 2, type);
    this.buf.set(payload, at + 4);
    return this;
  }

  u8(type: number, v: number): this {
    return this.attr(type, Uint8Array.of(v));
  }

  u32(type: number, v: number): this {
    const b = new Uint8Array(4);
    put32(b, 0, v);
    return this.attr(type, b);
  }

  /** A NUL-terminated ASCII string (callers pass checked names). */
  str(type: number, s: string): this {
    return this.attr(type, cString(s) ?? new Uint8Array(1));
  }

  /** A nested attribute holding what `fill` adds. */
  nest(type: number, fill: (r: this) => void): this {
    const at = this.grow(4);
    fill(this);
    put16(this.buf, at, this.len - at);
    put16(this.buf, at + 2, type | NLA_F_NESTED);
    return this;
  }

  bytes(seq: number, flags: number): Uint8Array {
    put32(this.buf, 0, this.len);
    put16(this.buf, 4, this.type);
    put16(this.buf, 6, this.flags | flags);
    put32(this.buf, 8, seq);
    return this.buf.subarray(0, this.len);
  }
}

export interface Reply {
  type: number;
  flags: number;
  seq: number;
  /** The payload after the 16-byte header. */
  body: Uint8Array;
}

/** The messages in one datagram. */
export function replies(buf: Uint8Array, n: number): Reply[] {
  const out: Reply[] = [];
  for (let at = 0; at + 16 <= n;) {
    const len = get32(buf, at) >>> 0;
    if (len < 16 || at + len > n) break;
    out.push({
      type: get16(buf, at + 4),
      flags: get16(buf, at + 6),
      seq: get32(buf, at + 8) >>> 0,
      body: buf.subarray(at + 16, at + len),
    });
    at += align(len);
  }
  return out;
}

export type Attrs = Map<number, Uint8Array>;

/** The attributes from `from` on (past a family header), by type (nested flag masked off). */
export function attrs(buf: Uint8Array, from = 0): Attrs {
  const out: Attrs = new Map();
  for (let at = from; at + 4 <= buf.length;) {
    const len = get16(buf, at);
    if (len < 4 || at + len > buf.length) break;
    out.set(get16(buf, at + 2) & NLA_TYPE_MASK, buf.subarray(at + 4, at + len));
    at += align(len);
  }
  return out;
}

export const u8 = (b: Uint8Array | undefined): number | undefined => (b && b.length >= 1 ? b[0] : undefined);
export const u32 = (b: Uint8Array | undefined): number | undefined =>
  b && b.length >= 4 ? get32(b, 0) >>> 0 : undefined;
export const i32 = (b: Uint8Array | undefined): number | undefined => (b && b.length >= 4 ? get32(b, 0) : undefined);
