// Clients that send the unix socket's path as `:authority` (grpc-go of crictl 1.2x's era, grpc-java, newer C-core):
// the harness must serve them, though Node's http2 alone resets such streams with PROTOCOL_ERROR.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import hpackJs from 'hpack.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests, type TestNode } from '@tscni/testing/node';
import { AuthorityRewriter } from '../src/h2-authority';
import { loadRuntimeService } from '../src/proto';
import { killPauses, startHarnessNode, type HarnessOptions, type HarnessProcess } from '@tscni/testing/harness-process';
import { CRICTL } from '@tscni/testing/real-crictl';

type Header = { name: string; value: string; neverIndex?: boolean };
// hpack.js's encoder, only in tests: it indexes and Huffman-codes like a real client.
const hpack = hpackJs as unknown as {
  compressor: { create(o: { table: { maxSize: number } }): { write(h: Header[]): void; push(b: Buffer): boolean } };
  decompressor: {
    create(o: { table: { maxSize: number } }): {
      _decoder: { push(b: Buffer): void; isEmpty(): boolean };
      _execute(): void;
      push(h: Header): boolean;
    };
  };
};

const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
};

function parseFrames(bytes: Buffer) {
  const frames: { type: number; flags: number; stream: number; payload: Buffer }[] = [];
  for (let off = 0; off < bytes.length;) {
    const len = bytes.readUIntBE(off, 3);
    frames.push({
      type: bytes[off + 3],
      flags: bytes[off + 4],
      stream: bytes.readUInt32BE(off + 5),
      payload: bytes.subarray(off + 9, off + 9 + len),
    });
    off += 9 + len;
  }
  return frames;
}

describe('AuthorityRewriter', () => {
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  const request = (authority: string, extra: Header[] = []): Header[] => [
    { name: ':method', value: 'POST' },
    { name: ':scheme', value: 'http' },
    { name: ':path', value: '/runtime.v1.RuntimeService/Version' },
    { name: ':authority', value: authority },
    { name: 'content-type', value: 'application/grpc' },
    { name: 'te', value: 'trailers' },
    ...extra,
  ];

  it('replaces a path authority in every header block, keeps the rest, splits big blocks, passes other frames', () => {
    const comp = hpack.compressor.create({ table: { maxSize: 4096 } });
    const encode = (headers: Header[]) => {
      const out: Buffer[] = [];
      comp.push = (b) => (out.push(Buffer.from(b)), true);
      comp.write(headers);
      return Buffer.concat(out);
    };
    const big = 'x'.repeat(20_000);
    const blocks = [
      request('/run/tscni/cri.sock'),
      request('/run/tscni/cri.sock', [{ name: 'authorization', value: 'secret', neverIndex: true }]), // indexed refs to block 1
      request('localhost:1234', [{ name: 'x-big', value: big }]),
    ];
    const enc = blocks.map(encode);
    const settings = frame(0x4, 0, 0, Buffer.alloc(0));
    const data = frame(0x0, 0x1, 1, Buffer.from([0, 0, 0, 0, 0]));
    // Block 2 arrives padded, with priority, split over HEADERS + CONTINUATION; block 3 split in three.
    const padded = Buffer.concat([
      Buffer.from([3]),
      Buffer.from([0, 0, 0, 0, 15]),
      enc[1].subarray(0, 10),
      Buffer.alloc(3),
    ]);
    const input = Buffer.concat([
      preface,
      settings,
      frame(0x1, 0x4, 1, enc[0]),
      data,
      frame(0x1, 0x8 | 0x20, 3, padded),
      frame(0x9, 0x4, 3, enc[1].subarray(10)),
      frame(0x1, 0x1, 5, enc[2].subarray(0, 9000)),
      frame(0x9, 0, 5, enc[2].subarray(9000, 15000)),
      frame(0x9, 0x4, 5, enc[2].subarray(15000)),
    ]);
    const rw = new AuthorityRewriter();
    // Byte by byte for the first part, then in odd chunks: framing must not depend on chunk boundaries.
    const out: Buffer[] = [];
    for (let i = 0; i < 200; i++) out.push(...rw.push(input.subarray(i, i + 1)));
    for (let i = 200; i < input.length; i += 777) out.push(...rw.push(input.subarray(i, i + 777)));
    const bytes = Buffer.concat(out);
    expect(bytes.subarray(0, preface.length).equals(preface)).toBe(true);
    const frames = parseFrames(bytes.subarray(preface.length));
    expect(frames[0]).toMatchObject({ type: 0x4, stream: 0 });
    expect(frames.find((f) => f.type === 0x0)!.payload.equals(data.subarray(9))).toBe(true);
    for (const f of frames) expect(f.payload.length).toBeLessThanOrEqual(16_384);

    const dec = hpack.decompressor.create({ table: { maxSize: 4096 } });
    const decoded: Header[][] = [];
    let block: Buffer[] = [];
    for (const f of frames.filter((f) => f.type === 0x1 || f.type === 0x9)) {
      block.push(f.type === 0x1 && f.flags & 0x20 ? f.payload.subarray(5) : f.payload);
      if (f.flags & 0x4) {
        const got: Header[] = [];
        dec.push = (h) => (got.push(h), true);
        dec._decoder.push(Buffer.concat(block));
        while (!dec._decoder.isEmpty()) dec._execute();
        decoded.push(
          got.map(({ name, value, neverIndex }) => ({ name, value, ...(neverIndex ? { neverIndex } : {}) })),
        );
        block = [];
      }
    }
    expect(decoded[0]).toEqual(request('localhost'));
    expect(decoded[1]).toEqual(request('localhost', [{ name: 'authorization', value: 'secret', neverIndex: true }]));
    expect(decoded[2]).toEqual(request('localhost:1234', [{ name: 'x-big', value: big }]));
    const headerFrames = frames.filter((f) => f.type === 0x1);
    expect(headerFrames.map((f) => [f.stream, f.flags & 0x21])).toEqual([
      [1, 0],
      [3, 0x20],
      [5, 0x1],
    ]);
    expect(headerFrames[1].payload.subarray(0, 5).equals(Buffer.from([0, 0, 0, 0, 15]))).toBe(true);
    expect(rw.replaced).toBe(2);
  });

  it('refuses what is not HTTP/2 and header blocks interrupted by other frames', () => {
    expect(() => new AuthorityRewriter().push(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toThrow(/preface/);
    const rw = new AuthorityRewriter();
    expect(() =>
      rw.push(Buffer.concat([preface, frame(0x1, 0, 1, Buffer.from([0x82])), frame(0x0, 0, 1, Buffer.alloc(1))])),
    ).toThrow(/interrupted/);
  });
});

const missing = missingForKernelTests(['ip', 'nsenter', 'unshare', 'flock']);

describe.skipIf(!!missing)(
  `the harness serves clients that send the socket path as :authority${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let opts: HarnessOptions;
    let harness: HarnessProcess;

    beforeAll(async () => {
      ({ node, opts, harness } = await startHarnessNode('cria', ['/usr/lib/cni']));
    });

    afterAll(async () => {
      await harness?.stop();
      if (opts) killPauses(opts.stateDir);
      node?.destroy();
    });

    it('a grpc-js client with grpc.default_authority = the socket path: many calls on one connection', async () => {
      const Client = grpc.makeGenericClientConstructor(loadRuntimeService(), 'RuntimeService');
      const client = new Client(`unix://${opts.socket}`, grpc.credentials.createInsecure(), {
        'grpc.default_authority': opts.socket,
      }) as any;
      try {
        for (let i = 0; i < 20; i++) {
          const meta = new grpc.Metadata();
          meta.set('x-call', `call-${i}`);
          const res = await new Promise<any>((resolve, reject) =>
            client.Version({ version: 'v1' }, meta, { deadline: Date.now() + 10_000 }, (e: Error | null, r: unknown) =>
              e ? reject(e) : resolve(r),
            ),
          );
          expect(res.runtime_name).toBe('tscni-cri');
        }
      } finally {
        client.close();
      }
    });

    it('the real crictl v1.26.1 (a grpc-go client) gets version and info', () => {
      expect(existsSync(CRICTL), `crictl is missing at ${CRICTL}`).toBe(true);
      const version = execFileSync(CRICTL, ['-r', `unix://${opts.socket}`, '-t', '10s', 'version'], {
        encoding: 'utf8',
      });
      expect(version).toMatch(/RuntimeName:\s+tscni-cri/);
      const info = JSON.parse(
        execFileSync(CRICTL, ['-r', `unix://${opts.socket}`, '-t', '10s', 'info'], { encoding: 'utf8' }),
      );
      expect(info.status.conditions.map((c: { type: string }) => c.type)).toEqual(['RuntimeReady', 'NetworkReady']);
    });
  },
);
