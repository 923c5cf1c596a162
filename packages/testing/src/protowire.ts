/**
 * A tiny protobuf wire codec for tests, independent of the .proto file: messages are built and read
 * by field number, so a test can check the harness against the CRI field numbers themselves.
 */
export type Field = number | string | bigint | Buffer | Msg;
export type Msg = [number, Field][];

function varint(n: bigint): Buffer {
  const out: number[] = [];
  let v = n;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

/** Encode: numbers/bigints as varints (wire type 0), strings/buffers/sub-messages length-delimited (2). */
export function encode(msg: Msg): Buffer {
  const parts: Buffer[] = [];
  for (const [no, value] of msg) {
    if (typeof value === 'number' || typeof value === 'bigint') {
      parts.push(varint(BigInt(no) << 3n), varint(BigInt(value)));
    } else {
      const body = typeof value === 'string' ? Buffer.from(value) : Buffer.isBuffer(value) ? value : encode(value);
      parts.push(varint((BigInt(no) << 3n) | 2n), varint(BigInt(body.length)), body);
    }
  }
  return Buffer.concat(parts);
}

/** Decode one level: field number → raw values (bigint for varints, Buffer for length-delimited). */
export function decode(buf: Buffer): Map<number, (bigint | Buffer)[]> {
  const fields = new Map<number, (bigint | Buffer)[]>();
  let i = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const tag = readVarint();
    const no = Number(tag >> 3n);
    const type = Number(tag & 7n);
    let value: bigint | Buffer;
    if (type === 0) value = readVarint();
    else if (type === 2) {
      const len = Number(readVarint());
      value = buf.subarray(i, i + len);
      i += len;
    } else throw new Error(`unexpected wire type ${type} for field ${no}`);
    fields.set(no, [...(fields.get(no) ?? []), value]);
  }
  return fields;
}

/** The single length-delimited field `no` decoded as a message (empty when absent). */
export const sub = (m: Map<number, (bigint | Buffer)[]>, no: number) =>
  decode((m.get(no)?.[0] as Buffer) ?? Buffer.alloc(0));
export const str = (m: Map<number, (bigint | Buffer)[]>, no: number) =>
  ((m.get(no)?.[0] as Buffer) ?? Buffer.alloc(0)).toString();
export const num = (m: Map<number, (bigint | Buffer)[]>, no: number) => (m.get(no)?.[0] as bigint) ?? 0n;
