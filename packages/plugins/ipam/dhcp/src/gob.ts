/**
 * A minimal encoding/gob codec: what Go's net/rpc needs to carry the dhcp daemon's calls (the reference daemon
 * and plugin speak it). The encoder writes the types described below (structs, slices, bool/int/uint/string/
 * []byte, and TextMarshaler values such as net.IP); the decoder reads any stream of those kinds, driven by the
 * type definitions the peer sends, and gives plain objects keyed by Go field name. Floats, complex numbers,
 * interfaces and GobEncoder/BinaryMarshaler payloads beyond raw bytes are refused.
 *
 * Wire format (https://pkg.go.dev/encoding/gob): a stream of messages `uint(byte count) int(type id) value`;
 * a negative id defines type -id (a `wireType`); structs are `(uint field delta, value)*` ended by 0, with
 * zero values left out; slices are `uint count, elements`; strings and []byte are `uint length, bytes`.
 */

export type GobType =
  | 'bool'
  | 'int'
  | 'uint'
  | 'string'
  | 'bytes'
  | { kind: 'struct'; name: string; fields: readonly (readonly [string, GobType])[] }
  | { kind: 'slice'; name: string; elem: GobType };

export const struct = (name: string, fields: readonly (readonly [string, GobType])[]): GobType => ({
  kind: 'struct',
  name,
  fields,
});
export const slice = (name: string, elem: GobType): GobType => ({ kind: 'slice', name, elem });

const BUILTIN_ID: Record<string, number> = { bool: 1, int: 2, uint: 3, bytes: 5, string: 6 };
const FIRST_USER_ID = 65;
/** The largest message either side accepts (the dhcp calls are a few kB). */
export const MAX_MESSAGE = 1 << 20;

class Out {
  private bytes: number[] = [];
  uint(n: number | bigint): this {
    let v = BigInt(n);
    if (v < 0n) throw new Error('gob: negative uint');
    if (v < 128n) return this.byte(Number(v));
    const be: number[] = [];
    for (; v > 0n; v >>= 8n) be.unshift(Number(v & 0xffn));
    this.byte(256 - be.length);
    for (const b of be) this.byte(b);
    return this;
  }
  int(n: number): this {
    const v = BigInt(n);
    return this.uint(v < 0n ? ((-v - 1n) << 1n) | 1n : v << 1n);
  }
  raw(data: Uint8Array): this {
    this.uint(data.length);
    for (const b of data) this.byte(b);
    return this;
  }
  string(s: string): this {
    return this.raw(Buffer.from(s, 'utf8'));
  }
  byte(b: number): this {
    this.bytes.push(b);
    return this;
  }
  get length(): number {
    return this.bytes.length;
  }
  buffer(): Buffer {
    return Buffer.from(this.bytes);
  }
}

class In {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  uint(): bigint {
    const first = this.take(1)[0];
    if (first < 128) return BigInt(first);
    const n = 256 - first;
    if (n > 8) throw new Error('gob: invalid uint');
    let v = 0n;
    for (const b of this.take(n)) v = (v << 8n) | BigInt(b);
    return v;
  }
  int(): number {
    const u = this.uint();
    return Number(u & 1n ? -(u >> 1n) - 1n : u >> 1n);
  }
  count(): number {
    const n = Number(this.uint());
    // Every element takes at least one byte: a larger count is a lie, not a reason to allocate.
    if (n > this.remaining) throw new Error('gob: count exceeds the message');
    return n;
  }
  raw(): Buffer {
    return this.take(this.count());
  }
  take(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new Error('gob: message too short');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** One side of a gob stream: type definitions are sent once, before the first value of that type. */
export class GobEncoder {
  private ids = new Map<GobType, number>();
  private nextId = FIRST_USER_ID;

  /** The messages that carry `value` (a struct) and any type definitions not sent yet. */
  encode(type: GobType, value: Record<string, unknown>): Buffer {
    if (typeof type === 'string' || type.kind !== 'struct')
      throw new Error('gob: only structs are encoded at top level');
    const messages = this.newTypes(type).map((t) => this.definition(t));
    const body = new Out().int(this.idOf(type));
    this.value(type, value, body);
    messages.push(frame(body));
    return Buffer.concat(messages);
  }

  /** Types not sent yet, outer before inner (Go's order); ids are assigned before any definition is written. */
  private newTypes(type: GobType, acc: Exclude<GobType, string>[] = []): Exclude<GobType, string>[] {
    if (typeof type === 'string' || this.ids.has(type)) return acc;
    this.ids.set(type, this.nextId++);
    acc.push(type);
    if (type.kind === 'struct') for (const [, t] of type.fields) this.newTypes(t, acc);
    if (type.kind === 'slice') this.newTypes(type.elem, acc);
    return acc;
  }

  private idOf(type: GobType): number {
    const id = typeof type === 'string' ? BUILTIN_ID[type] : this.ids.get(type);
    if (id === undefined) throw new Error('gob: type not defined');
    return id;
  }

  /** `-id wireType{…}`: wireType fields SliceT = 1, StructT = 2. */
  private definition(type: Exclude<GobType, string>): Buffer {
    const id = this.idOf(type);
    const out = new Out().int(-id);
    const common = () => out.uint(1).uint(1).string(type.name).uint(1).int(id).uint(0);
    if (type.kind === 'struct') {
      out.uint(3);
      common();
      if (type.fields.length) {
        out.uint(1).uint(type.fields.length);
        for (const [name, t] of type.fields) out.uint(1).string(name).uint(1).int(this.idOf(t)).uint(0);
      }
    } else {
      out.uint(2);
      common();
      out.uint(1).int(this.idOf(type.elem));
    }
    out.uint(0).uint(0);
    return frame(out);
  }

  private value(type: GobType, v: unknown, out: Out): void {
    switch (type) {
      case 'bool':
        return void out.uint(v ? 1 : 0);
      case 'int':
        return void out.int(Number(v));
      case 'uint':
        return void out.uint(Number(v));
      case 'string':
        return void out.string(String(v));
      case 'bytes':
        return void out.raw(v as Uint8Array);
    }
    if (type.kind === 'slice') {
      const items = v as unknown[];
      out.uint(items.length);
      for (const item of items) this.value(type.elem, item, out);
      return;
    }
    const obj = v as Record<string, unknown>;
    let last = -1;
    type.fields.forEach(([name, t], i) => {
      if (isZero(t, obj[name])) return;
      out.uint(i - last);
      last = i;
      this.value(t, obj[name], out);
    });
    out.uint(0);
  }
}

function isZero(type: GobType, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (type === 'bool') return !v;
  if (type === 'int' || type === 'uint') return Number(v) === 0;
  if (type === 'string') return v === '';
  if (type === 'bytes' || (typeof type !== 'string' && type.kind === 'slice'))
    return (v as ArrayLike<unknown>).length === 0;
  return false;
}

const frame = (body: Out): Buffer => Buffer.concat([new Out().uint(body.length).buffer(), body.buffer()]);

/** What a received type id stands for. */
type Wire =
  | { struct: { name: string; id: number }[] }
  | { slice: number }
  | { array: number }
  | { map: [number, number] }
  /** GobEncoder, BinaryMarshaler or TextMarshaler: the encoded bytes. */
  | { external: true };

/** Go's bootstrap types (the shape of `wireType` itself); 26 is a local id for gobEncoderType. */
const BOOTSTRAP: [number, Wire][] = [
  [
    16,
    {
      struct: [
        ['ArrayT', 17],
        ['SliceT', 19],
        ['StructT', 20],
        ['MapT', 23],
        ['GobEncoderT', 26],
        ['BinaryMarshalerT', 26],
        ['TextMarshalerT', 26],
      ].map(([name, id]) => ({ name: name as string, id: id as number })),
    },
  ],
  [
    17,
    {
      struct: [
        { name: 'CommonType', id: 18 },
        { name: 'Elem', id: 2 },
        { name: 'Len', id: 2 },
      ],
    },
  ],
  [
    18,
    {
      struct: [
        { name: 'Name', id: 6 },
        { name: 'Id', id: 2 },
      ],
    },
  ],
  [
    19,
    {
      struct: [
        { name: 'CommonType', id: 18 },
        { name: 'Elem', id: 2 },
      ],
    },
  ],
  [
    20,
    {
      struct: [
        { name: 'CommonType', id: 18 },
        { name: 'Field', id: 22 },
      ],
    },
  ],
  [
    21,
    {
      struct: [
        { name: 'Name', id: 6 },
        { name: 'Id', id: 2 },
      ],
    },
  ],
  [22, { slice: 21 }],
  [
    23,
    {
      struct: [
        { name: 'CommonType', id: 18 },
        { name: 'Key', id: 2 },
        { name: 'Elem', id: 2 },
      ],
    },
  ],
  [26, { struct: [{ name: 'CommonType', id: 18 }] }],
];

type Decoded = Record<string, unknown>;

/** The other side: feed bytes with `push`, take whole values with `next`. */
export class GobDecoder {
  private wire = new Map<number, Wire>(BOOTSTRAP);
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  /** The next top-level value (after any type definitions before it), or undefined until one has fully arrived. */
  next(): Decoded | undefined {
    for (;;) {
      const msg = this.message();
      if (!msg) return undefined;
      const id = msg.int();
      if (id < 0) {
        if (this.wire.has(-id) && -id >= FIRST_USER_ID) throw new Error(`gob: duplicate type id ${-id}`);
        this.wire.set(-id, toWire(this.decode(16, msg) as Decoded));
        continue;
      }
      const w = this.wire.get(id);
      if (!w || !('struct' in w)) throw new Error(`gob: expected a struct value, got type ${id}`);
      return this.decode(id, msg) as Decoded;
    }
  }

  private message(): In | undefined {
    if (!this.buf.length) return undefined;
    const head = new In(this.buf);
    let len: number;
    try {
      len = Number(head.uint());
    } catch {
      return undefined;
    }
    if (len > MAX_MESSAGE) throw new Error('gob: message too large');
    const start = this.buf.length - head.remaining;
    if (head.remaining < len) return undefined;
    const body = this.buf.subarray(start, start + len);
    this.buf = this.buf.subarray(start + len);
    return new In(body);
  }

  private decode(id: number, r: In): unknown {
    switch (id) {
      case 1:
        return r.uint() !== 0n;
      case 2:
        return r.int();
      case 3:
        return Number(r.uint());
      case 5:
        return Buffer.from(r.raw());
      case 6:
        return r.raw().toString('utf8');
    }
    const w = this.wire.get(id);
    if (!w) throw new Error(`gob: unsupported or unknown type id ${id}`);
    if ('external' in w) return Buffer.from(r.raw());
    if ('slice' in w || 'array' in w) {
      const elem = 'slice' in w ? w.slice : w.array;
      return Array.from({ length: r.count() }, () => this.decode(elem, r));
    }
    if ('map' in w) {
      const out = new Map<unknown, unknown>();
      for (let n = r.count(); n > 0; n--) out.set(this.decode(w.map[0], r), this.decode(w.map[1], r));
      return out;
    }
    const obj: Decoded = {};
    for (let field = -1; ;) {
      const delta = Number(r.uint());
      if (delta === 0) return obj;
      field += delta;
      const f = w.struct[field];
      if (!f) throw new Error(`gob: field ${field} out of range`);
      obj[f.name] = this.decode(f.id, r);
    }
  }
}

function toWire(t: Decoded): Wire {
  const of = (k: string) => t[k] as Decoded | undefined;
  if (of('StructT'))
    return {
      struct: ((of('StructT')!.Field as Decoded[] | undefined) ?? []).map((f) => ({
        name: String(f.Name ?? ''),
        id: Number(f.Id),
      })),
    };
  if (of('SliceT')) return { slice: Number(of('SliceT')!.Elem) };
  if (of('ArrayT')) return { array: Number(of('ArrayT')!.Elem) };
  if (of('MapT')) return { map: [Number(of('MapT')!.Key), Number(of('MapT')!.Elem)] };
  if (of('GobEncoderT') || of('BinaryMarshalerT') || of('TextMarshalerT')) return { external: true };
  throw new Error('gob: unsupported type definition');
}
