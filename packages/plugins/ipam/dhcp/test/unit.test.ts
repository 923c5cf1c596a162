import { describe, expect, it } from 'vitest';
import { bindingFromAck, parseClasslessRoutes } from '../src/daemon/ack';
import { parseDaemonFlags, parseDuration } from '../src/daemon/flags';
import { MessageType, Opt, decode, encode, ipToBuffer, u32, type Packet } from '../src/daemon/packet';
import { backoffDelays } from '../src/daemon/retry';
import { providedOptions, requestedOptions } from '../src/options';

const ack = (options: [number, Buffer][]): Packet => ({
  op: 2,
  xid: 0x12345678,
  secs: 0,
  broadcast: true,
  ciaddr: '0.0.0.0',
  yiaddr: '10.0.0.5',
  siaddr: '10.0.0.1',
  giaddr: '0.0.0.0',
  chaddr: '02:00:00:00:00:01',
  options: new Map([[Opt.MESSAGE_TYPE, Buffer.from([MessageType.ACK])], ...options]),
});

describe('packet codec', () => {
  it('round-trips the header and options, padding to 300 bytes', () => {
    const p = ack([
      [Opt.SUBNET_MASK, ipToBuffer('255.255.255.0')],
      [Opt.HOST_NAME, Buffer.from('web-0')],
    ]);
    const bytes = encode(p);
    expect(bytes.length).toBe(300);
    expect(bytes.readUInt32BE(236)).toBe(0x63825363);
    const back = decode(bytes)!;
    expect(back).toMatchObject({
      op: 2,
      xid: 0x12345678,
      broadcast: true,
      yiaddr: '10.0.0.5',
      chaddr: '02:00:00:00:00:01',
    });
    expect(back.options.get(Opt.HOST_NAME)!.toString()).toBe('web-0');
  });

  it('splits options longer than 255 bytes and joins them back (RFC 3396)', () => {
    const long = Buffer.alloc(300, 7);
    const back = decode(encode(ack([[Opt.CLASSLESS_ROUTES, long]])))!;
    expect(back.options.get(Opt.CLASSLESS_ROUTES)).toEqual(long);
  });

  it('rejects truncated or foreign datagrams', () => {
    expect(decode(Buffer.alloc(100))).toBeUndefined();
    const bytes = encode(ack([]));
    bytes.writeUInt32BE(0, 236);
    expect(decode(bytes)).toBeUndefined();
  });
});

describe('ACK → binding', () => {
  const base: [number, Buffer][] = [
    [Opt.SUBNET_MASK, ipToBuffer('255.255.255.0')],
    [Opt.LEASE_TIME, u32(100)],
    [Opt.SERVER_ID, ipToBuffer('10.0.0.1')],
  ];

  it('defaults T1 to 50 % and T2 to 85 % of the lease', () => {
    const b = bindingFromAck(ack(base), 0);
    expect(b).toMatchObject({
      ip: '10.0.0.5',
      prefix: 24,
      serverID: '10.0.0.1',
      renewAt: 50_000,
      rebindAt: 85_000,
      expiresAt: 100_000,
    });
  });

  it('takes T1/T2 from options 58/59 unless they are out of order', () => {
    expect(bindingFromAck(ack([...base, [Opt.RENEWAL_TIME, u32(10)], [Opt.REBINDING_TIME, u32(20)]]), 0)).toMatchObject(
      { renewAt: 10_000, rebindAt: 20_000 },
    );
    expect(
      bindingFromAck(ack([...base, [Opt.RENEWAL_TIME, u32(90)], [Opt.REBINDING_TIME, u32(200)]]), 0),
    ).toMatchObject({ renewAt: 50_000, rebindAt: 85_000 });
  });

  it('routes: router → default route; static routes (33) are classful; 121 replaces both', () => {
    const router: [number, Buffer] = [Opt.ROUTER, ipToBuffer('10.0.0.1')];
    const stat: [number, Buffer] = [
      Opt.STATIC_ROUTES,
      Buffer.concat([ipToBuffer('172.16.0.0'), ipToBuffer('10.0.0.2')]),
    ];
    expect(bindingFromAck(ack([...base, router, stat]), 0).routes).toEqual([
      { dst: '172.16.0.0/16', gw: '10.0.0.2' },
      { dst: '0.0.0.0/0', gw: '10.0.0.1' },
    ]);
    const classless: [number, Buffer] = [
      Opt.CLASSLESS_ROUTES,
      Buffer.from([24, 192, 168, 50, 10, 0, 0, 254, 0, 10, 0, 0, 1]),
    ];
    const b = bindingFromAck(ack([...base, router, stat, classless]), 0);
    expect(b.routes).toEqual([
      { dst: '192.168.50.0/24', gw: '10.0.0.254' },
      { dst: '0.0.0.0/0', gw: '10.0.0.1' },
    ]);
    expect(b.gateway).toBe('10.0.0.1');
  });

  it('121: router 0.0.0.0 is on-link; a malformed option is ignored', () => {
    expect(parseClasslessRoutes(Buffer.from([32, 10, 1, 2, 3, 0, 0, 0, 0]))).toEqual([{ dst: '10.1.2.3/32' }]);
    expect(parseClasslessRoutes(Buffer.from([33, 1]))).toEqual([]);
  });

  it('an ACK without a subnet mask is an error, as in the reference', () => {
    expect(() => bindingFromAck(ack([[Opt.LEASE_TIME, u32(100)]]), 0)).toThrow(
      'DHCP option Subnet Mask not found in DHCPACK',
    );
  });
});

describe('request/provide options', () => {
  it('routers and subnet-mask are requested unless skipDefault', () => {
    expect(requestedOptions([])).toEqual([3, 1]);
    expect(requestedOptions([{ option: 'classless-static-routes' }, { option: '42' }])).toEqual([121, 42, 3, 1]);
    expect(requestedOptions([{ option: 'host-name', skipDefault: true }])).toEqual([12]);
  });

  it('fromArg takes the CNI_ARGS value, falling back to value', () => {
    const provide = [
      { option: 'host-name', fromArg: 'K8S_POD_NAME', value: 'fallback' },
      { option: '60', value: 'vendor' },
    ];
    expect(providedOptions(provide, 'IgnoreUnknown=1;K8S_POD_NAME=web-0')).toEqual([
      [12, 'web-0'],
      [60, 'vendor'],
    ]);
    expect(providedOptions(provide, '')).toEqual([
      [12, 'fallback'],
      [60, 'vendor'],
    ]);
  });

  it('unknown names, out-of-range numbers and client-managed options are config errors', () => {
    expect(() => requestedOptions([{ option: 'frobnicate' }])).toThrow(/ipam.request\[0\].option/);
    expect(() => requestedOptions([{ option: '255' }])).toThrow(/can not parse option/);
    expect(() => providedOptions([{ option: '53', value: 'x' }], '')).toThrow(/managed by the DHCP client/);
  });
});

describe('daemon flags', () => {
  it('parses Go-style flags and durations', () => {
    const f = parseDaemonFlags([
      '-socketpath',
      '/tmp/x.sock',
      '--timeout=1m30s',
      '-broadcast',
      '-resendmax',
      '500ms',
      '-pidfile=/run/p',
    ]);
    expect(f).toMatchObject({
      socketPath: '/tmp/x.sock',
      timeoutMs: 90_000,
      broadcast: true,
      resendMaxMs: 500,
      pidfile: '/run/p',
      stateDir: '/run/cni/dhcp-leases',
    });
    expect(parseDaemonFlags(['-broadcast=false']).broadcast).toBe(false);
    expect(parseDuration('2h', 'x')).toBe(7_200_000);
  });

  it('rejects unknown flags and bad durations', () => {
    expect(() => parseDaemonFlags(['-nope'])).toThrow('flag provided but not defined: -nope');
    expect(() => parseDaemonFlags(['-timeout', '10'])).toThrow(/invalid value "10" for flag -timeout/);
    expect(() => parseDaemonFlags(['-socketpath'])).toThrow(/needs an argument/);
  });

  it('backoff: four fast retries, then doubling up to resendmax', () => {
    const delays = [...backoffDelays(16_000)].map((d) => Math.round(d / 1000));
    expect(delays.length).toBe(7);
    for (const d of delays.slice(0, 4)) expect(d >= 1 && d <= 3).toBe(true);
    expect(delays.slice(4).map((d, i) => Math.abs(d - [4, 8, 16][i]) <= 1)).toEqual([true, true, true]);
  });
});
