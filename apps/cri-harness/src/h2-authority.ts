// grpc-go clients of crictl 1.2x's era (and grpc-java, newer grpc C-core) send a unix socket's path as the HTTP/2
// `:authority`. nghttp2, under Node's http2 and so under grpc-js, resets such a stream with PROTOCOL_ERROR before
// the server sees it, and Node exposes no option to relax that check. So the bytes a client sends are rewritten on
// their way in: every header block is decoded (HPACK is stateful, so all of them), an authority outside RFC 3986's
// character set is replaced by `localhost`, and the block is re-encoded with literals that never touch the
// dynamic table — the server's decoder state then never depends on the client's. Every other frame passes as is.
import hpack, { type DecodedHeader, type Decompressor } from 'hpack.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE's initial value; the server never announces a smaller one. */
const MAX_FRAME_PAYLOAD = 16_384;
/** SETTINGS_HEADER_TABLE_SIZE's initial value: the most a client's encoder may use. */
const HEADER_TABLE_SIZE = 4096;
/** A header block larger than this is refused (the server's own limit is far lower). */
const MAX_HEADER_BLOCK = 1 << 20;
/** What nghttp2 accepts in `:authority` / `host`: RFC 3986's authority characters. */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;
export const REPLACEMENT_AUTHORITY = 'localhost';

export class Http2FramingError extends Error {}

interface PendingBlock {
  streamId: number;
  flags: number;
  priority: Buffer | null;
  fragments: Buffer[];
  size: number;
}

/** Rewrites one client connection's byte stream (client → server); feed it every chunk in order. */
export class AuthorityRewriter {
  private buffered: Buffer = Buffer.alloc(0);
  private prefaceDone = false;
  private block: PendingBlock | null = null;
  private readonly decoder: Decompressor;
  private decoded: DecodedHeader[] = [];
  /** How many authorities were replaced (for the log and the tests). */
  replaced = 0;

  constructor() {
    this.decoder = hpack.decompressor.create({ table: { maxSize: HEADER_TABLE_SIZE } });
    this.decoder.push = (h) => (this.decoded.push(h), true);
  }

  /** The bytes to hand to the server for this chunk from the client; throws Http2FramingError on a malformed stream. */
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const out: Buffer[] = [];
    if (!this.prefaceDone) {
      const n = Math.min(this.buffered.length, PREFACE.length);
      if (!this.buffered.subarray(0, n).equals(PREFACE.subarray(0, n)))
        throw new Http2FramingError('not an HTTP/2 connection preface');
      if (n < PREFACE.length) return out;
      out.push(PREFACE);
      this.buffered = this.buffered.subarray(PREFACE.length);
      this.prefaceDone = true;
    }
    while (this.buffered.length >= FRAME_HEADER) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < FRAME_HEADER + length) break;
      const frame = this.buffered.subarray(0, FRAME_HEADER + length);
      this.buffered = this.buffered.subarray(FRAME_HEADER + length);
      const type = frame[3];
      if (this.block && type !== CONTINUATION) throw new Http2FramingError('header block interrupted by another frame');
      if (type === HEADERS) this.startBlock(frame, out);
      else if (type === CONTINUATION) this.continueBlock(frame, out);
      else out.push(frame);
    }
    return out;
  }

  private startBlock(frame: Buffer, out: Buffer[]): void {
    const flags = frame[4];
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    const payload = frame.subarray(FRAME_HEADER);
    let offset = 0;
    let padding = 0;
    if (flags & PADDED) {
      padding = payload[0] ?? 0;
      offset = 1;
    }
    const priority = flags & PRIORITY ? payload.subarray(offset, offset + 5) : null;
    if (priority) offset += 5;
    if (offset + padding > payload.length) throw new Http2FramingError('HEADERS padding exceeds the frame');
    const fragment = payload.subarray(offset, payload.length - padding);
    this.block = { streamId, flags, priority, fragments: [fragment], size: fragment.length };
    if (flags & END_HEADERS) this.finishBlock(out);
  }

  private continueBlock(frame: Buffer, out: Buffer[]): void {
    const block = this.block;
    if (!block || (frame.readUInt32BE(5) & 0x7fffffff) !== block.streamId)
      throw new Http2FramingError('CONTINUATION without its HEADERS');
    const fragment = frame.subarray(FRAME_HEADER);
    block.fragments.push(fragment);
    block.size += fragment.length;
    if (block.size > MAX_HEADER_BLOCK) throw new Http2FramingError('header block too large');
    if (frame[4] & END_HEADERS) this.finishBlock(out);
  }

  private finishBlock(out: Buffer[]): void {
    const block = this.block!;
    this.block = null;
    this.decoded = [];
    try {
      this.decoder._decoder.push(Buffer.concat(block.fragments));
      while (!this.decoder._decoder.isEmpty()) this.decoder._execute();
    } catch (e) {
      throw new Http2FramingError(`undecodable header block: ${(e as Error).message}`);
    }
    const encoded = encodeBlock(
      this.decoded.map((h) => {
        if ((h.name === ':authority' || h.name === 'host') && !VALID_AUTHORITY.test(h.value)) {
          this.replaced++;
          return { ...h, value: REPLACEMENT_AUTHORITY };
        }
        return h;
      }),
    );
    out.push(...headerFrames(block, encoded));
  }
}

/** HPACK literals without indexing (never-indexed ones stay so), names and values as plain octets. */
function encodeBlock(headers: DecodedHeader[]): Buffer {
  const parts: Buffer[] = [];
  for (const h of headers) {
    parts.push(Buffer.from(hpackInt(0, 4, h.neverIndex ? 0x10 : 0x00)));
    for (const s of [h.name, h.value]) {
      const bytes = Buffer.from(s, 'latin1');
      parts.push(Buffer.from(hpackInt(bytes.length, 7, 0x00)), bytes);
    }
  }
  return Buffer.concat(parts);
}

/** RFC 7541 §5.1 integer with an N-bit prefix. */
function hpackInt(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const bytes = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/** One HEADERS frame (priority kept, padding dropped), then CONTINUATION frames as the frame size demands. */
function headerFrames(block: PendingBlock, encoded: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  const firstRoom = MAX_FRAME_PAYLOAD - (block.priority ? 5 : 0);
  let rest = encoded;
  let first = true;
  do {
    const room = first ? firstRoom : MAX_FRAME_PAYLOAD;
    const piece = rest.subarray(0, room);
    rest = rest.subarray(piece.length);
    let flags = rest.length === 0 ? END_HEADERS : 0;
    if (first) flags |= block.flags & (END_STREAM | PRIORITY);
    const payload = first && block.priority ? Buffer.concat([block.priority, piece]) : piece;
    const header = Buffer.alloc(FRAME_HEADER);
    header.writeUIntBE(payload.length, 0, 3);
    header[3] = first ? HEADERS : CONTINUATION;
    header[4] = flags;
    header.writeUInt32BE(block.streamId, 5);
    frames.push(header, payload);
    first = false;
  } while (rest.length > 0);
  return frames;
}
