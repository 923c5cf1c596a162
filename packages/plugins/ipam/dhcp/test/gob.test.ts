import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GobDecoder, GobEncoder, slice, struct } from '../src/gob';
import { leaseToResult, resultToLease } from '../src/go-rpc';

const Inner = struct('Inner', [
  ['Name', 'string'],
  ['N', 'int'],
]);
const Outer = struct('Outer', [
  ['Flag', 'bool'],
  ['Count', 'uint'],
  ['Data', 'bytes'],
  ['Items', slice('[]Inner', Inner)],
  ['Neg', 'int'],
]);

describe('gob', () => {
  it('round-trips structs, slices and scalars; zero fields are left out', () => {
    const enc = new GobEncoder();
    const dec = new GobDecoder();
    const value = {
      Flag: true,
      Count: 300,
      Data: Buffer.from([1, 2, 3]),
      Items: [
        { Name: 'a', N: -129 },
        { Name: '', N: 7 },
      ],
      Neg: -1,
    };
    dec.push(enc.encode(Outer, value));
    expect(dec.next()).toEqual({ ...value, Items: [{ Name: 'a', N: -129 }, { N: 7 }] });
    // The second value of a type carries no definition and still decodes.
    const second = enc.encode(Outer, { Count: 1 });
    expect(second.length).toBeLessThan(8);
    dec.push(second);
    expect(dec.next()).toEqual({ Count: 1 });
  });

  it('waits for a whole message and takes values split across chunks', () => {
    const bytes = new GobEncoder().encode(Inner, { Name: 'split', N: 5 });
    const dec = new GobDecoder();
    for (let i = 0; i < bytes.length - 1; i++) {
      dec.push(bytes.subarray(i, i + 1));
      expect(dec.next()).toBeUndefined();
    }
    dec.push(bytes.subarray(bytes.length - 1));
    expect(dec.next()).toEqual({ Name: 'split', N: 5 });
  });

  it('refuses counts larger than the message and values of undefined types', () => {
    const dec = new GobDecoder();
    // A message of type 65 (never defined).
    dec.push(Buffer.from([2, 0xff, 0x82]));
    expect(() => dec.next()).toThrow(/type 65/);
    const enc = new GobEncoder();
    const ok = enc.encode(struct('S', [['B', 'bytes']]), { B: Buffer.from([9]) });
    const bad = Buffer.from(ok);
    bad[bad.length - 3] = 0x7f; // the []byte length
    const d2 = new GobDecoder();
    d2.push(bad);
    expect(() => d2.next()).toThrow(/count exceeds/);
  });

  it('arbitrary bytes (what anyone on the socket can send) decode or throw an Error, never hang', () => {
    const valid = new GobEncoder().encode(Outer, { Flag: true, Count: 3, Items: [{ Name: 'x', N: 1 }] });
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // Valid streams with bytes flipped: the interesting inputs sit near well-formed ones.
      fc
        .tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }))
        .map(([i, b]) => Uint8Array.from(valid, (v, j) => (j === i ? b : v))),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const dec = new GobDecoder();
        dec.push(Buffer.from(b));
        try {
          for (let i = 0; i < 1000 && dec.next(); i++);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('current.Result ↔ lease: address/mask, gateway, routes', () => {
    const lease = {
      address: '10.78.0.101/24',
      gateway: '10.78.0.1',
      routes: [
        { dst: '0.0.0.0/0', gw: '10.78.0.1' },
        { dst: '192.168.50.0/24', gw: '10.78.0.254' },
      ],
    };
    expect(resultToLease(leaseToResult(lease))).toEqual(lease);
    // Go's net.IP is often the 16-byte form.
    const v4in6 = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 9]);
    expect(resultToLease({ IPs: [{ Address: { IP: v4in6, Mask: Buffer.from([255, 255, 0, 0]) } }] })).toEqual({
      address: '10.0.0.9/16',
      routes: [],
    });
    expect(resultToLease({})).toBeUndefined();
  });
});
