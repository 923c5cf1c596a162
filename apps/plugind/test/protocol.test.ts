// Protocol v1's framing (docs/resident.md) as the daemon parses a request and frames its answers: a request is
// NUL-terminated fields, the environment ended by an empty field, then stdin byte for byte (a BOM, NULs and
// non-UTF-8 bytes reach the plugin as the executable would read them); anything short of that is a reason to decline.
import { describe, expect, it } from 'vitest';
import { declineAnswer, MAGIC, parseRequest, runAnswer } from '../src/protocol';
import { decodeAnswer, encodeRequest, type WireRequest } from './wire';

const base: WireRequest = {
  plugin: 'bridge',
  fallback: '/opt/cni/bin/tscni-cni',
  netns: '4:4026531840',
  mntns: '4:4026531841',
  env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'K8S_POD_NAME=a;IgnoreUnknown=1', PATH: '/usr/bin:/bin' },
  stdin: '{"cniVersion":"1.0.0","name":"n","type":"bridge"}',
};

describe('parseRequest', () => {
  it('reads the fields, the environment and stdin', () => {
    expect(MAGIC).toBe('tscni-plugind/1');
    expect(parseRequest(encodeRequest(base))).toEqual({ ...base });
  });

  it('keeps a value with "=" whole, and skips an entry without a name or without "="', () => {
    const bytes = Buffer.concat([
      Buffer.from(
        [
          'tscni-plugind/1',
          'tuning',
          '/x/tscni-cni',
          '1:2',
          '1:3',
          'A=b=c',
          '=nameless',
          'NOEQUALS',
          'EMPTY=',
          '',
          'in',
        ].join('\x00'),
      ),
    ]);
    expect(parseRequest(bytes)).toEqual({
      plugin: 'tuning',
      fallback: '/x/tscni-cni',
      netns: '1:2',
      mntns: '1:3',
      env: { A: 'b=c', EMPTY: '' },
      stdin: 'in',
    });
  });

  it('an empty environment and an empty stdin are a request', () => {
    expect(parseRequest(encodeRequest({ ...base, env: {}, stdin: '' }))).toEqual({ ...base, env: {}, stdin: '' });
  });

  it('keeps a BOM at the start of stdin (the executable refuses a config behind one, so must the daemon)', () => {
    const req = parseRequest(encodeRequest({ ...base, stdin: '\uFEFF{"cniVersion":"1.0.0"}' }));
    expect(typeof req).toBe('object');
    expect((req as { stdin: string }).stdin).toBe('\uFEFF{"cniVersion":"1.0.0"}');
    expect((req as { stdin: string }).stdin.codePointAt(0)).toBe(0xfeff);
  });

  it('keeps NULs in stdin: only the fields before it are NUL-terminated', () => {
    const req = parseRequest(encodeRequest({ ...base, stdin: 'a\0b\0\0c\0' }));
    expect((req as { stdin: string }).stdin).toBe('a\0b\0\0c\0');
  });

  it('decodes non-UTF-8 bytes as U+FFFD, as a decoder of the executable’s stdin does, and multi-byte ones whole', () => {
    const stdin = Buffer.concat([Buffer.from('{"name":"'), Buffer.of(0xff, 0xc3), Buffer.from('é€😀"}')]);
    const req = parseRequest(encodeRequest({ ...base, stdin }));
    expect((req as { stdin: string }).stdin).toBe('{"name":"\uFFFD\uFFFDé€😀"}');
    const name = parseRequest(encodeRequest({ ...base, plugin: Buffer.of(0x62, 0xff) as unknown as string }));
    expect((name as { plugin: string }).plugin).toBe('b\uFFFD');
  });

  it('gives a reason for what is not a whole v1 request', () => {
    const whole = encodeRequest(base);
    const envEnd = whole.indexOf(Buffer.of(0, 0)) + 2; // the empty field after the environment
    expect(parseRequest(new Uint8Array())).toBe('not a tscni-plugind/1 request');
    expect(parseRequest(Buffer.from('tscni-plugind/1'))).toBe('not a tscni-plugind/1 request');
    expect(parseRequest(encodeRequest(base, 'tscni-plugind/2'))).toBe('not a tscni-plugind/1 request');
    expect(parseRequest(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toBe('not a tscni-plugind/1 request');
    const nul = (...fields: string[]) => Buffer.from(fields.join('\x00'));
    for (const cut of [
      nul('tscni-plugind/1', ''),
      nul('tscni-plugind/1', 'bridge', ''),
      nul('tscni-plugind/1', 'bridge', '/x', ''),
      nul('tscni-plugind/1', 'bridge', '/x', '1:2'),
      nul('tscni-plugind/1', 'bridge', '/x', '1:2', ''),
      nul('tscni-plugind/1', 'bridge', '/x', '1:2', '1:3'),
    ])
      expect(parseRequest(cut), JSON.stringify(cut.toString())).toBe('truncated request');
    // Cut anywhere inside the environment (before its closing empty field): the environment is truncated.
    const fieldsEnd = nul(
      'tscni-plugind/1',
      'bridge',
      '/opt/cni/bin/tscni-cni',
      '4:4026531840',
      '4:4026531841',
      '',
    ).length;
    for (let cut = fieldsEnd; cut < envEnd - 1; cut++)
      expect(parseRequest(whole.subarray(0, cut)), `cut at ${cut}`).toBe('truncated environment');
    // From the closing field on, it is a request whose stdin is whatever arrived.
    expect(parseRequest(whole.subarray(0, envEnd))).toEqual({ ...base, stdin: '' });
    expect(parseRequest(whole.subarray(0, envEnd + 5))).toEqual({ ...base, stdin: String(base.stdin).slice(0, 5) });
  });
});

describe('answers', () => {
  it('runAnswer: R, the exit code, stdout’s byte length (u32 LE), stdout, then stderr to the end', () => {
    const stdout = '{"msg":"é€😀"}\n';
    const frame = Buffer.from(runAnswer(1, stdout, 'warn: ü\n'));
    expect(frame[0]).toBe(0x52);
    expect(frame[1]).toBe(1);
    expect(frame.readUInt32LE(2)).toBe(Buffer.byteLength(stdout)); // bytes, not UTF-16 units
    expect(frame.readUInt32LE(2)).not.toBe(stdout.length);
    expect(decodeAnswer(frame)).toEqual({
      kind: 'run',
      code: 1,
      stdout: Buffer.from(stdout),
      stderr: Buffer.from('warn: ü\n'),
    });
  });

  it('runAnswer: empty outputs, exit code 0, and a code kept to its low byte as an exit status is', () => {
    expect([...runAnswer(0, '', '')]).toEqual([0x52, 0, 0, 0, 0, 0]);
    expect(runAnswer(256 + 7, 'x', '')[1]).toBe(7);
    const big = 'a'.repeat(70_000);
    const frame = Buffer.from(runAnswer(0, big, 'e'));
    expect(frame.readUInt32LE(2)).toBe(70_000);
    expect(frame.subarray(6 + 70_000).toString()).toBe('e');
  });

  it('declineAnswer: F and the reason in UTF-8', () => {
    expect(Buffer.from(declineAnswer('macvlan is not run in-process')).toString()).toBe(
      'Fmacvlan is not run in-process',
    );
    expect(decodeAnswer(Buffer.from(declineAnswer('ü')))).toEqual({ kind: 'decline', reason: 'ü' });
    expect(Buffer.from(declineAnswer(''))).toEqual(Buffer.from('F'));
  });
});
