import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  dispatch,
  emptyAsUnset,
  goDecode,
  goField,
  goParse,
  goView,
  toCurrentResult,
  type CmdArgs,
  type PluginFuncs,
} from '../src';

const Range = z
  .object({ subnet: z.string(), rangeStart: z.string().optional(), gateway: z.string().optional() })
  .passthrough();
const Conf = z
  .object({
    name: z.string().optional(),
    mtu: z.number().int().optional(),
    isGateway: z.boolean().default(false),
    ipam: z
      .object({
        type: z.string().optional(),
        ranges: z.array(z.array(Range)).optional(),
        dataDir: z.string().optional(),
      })
      .passthrough()
      .optional(),
    runtimeConfig: z
      .object({
        portMappings: z
          .array(
            z.object({
              hostPort: z.number(),
              containerPort: z.number(),
              protocol: z.string().optional(),
              hostIP: z.string().optional(),
            }),
          )
          .optional(),
        bandwidth: z.object({ ingressRate: z.number().optional() }).optional(),
      })
      .passthrough()
      .optional(),
    labels: z.record(z.object({ value: z.string() })).optional(),
    either: z.union([z.object({ alpha: z.string() }), z.object({ beta: z.number() })]).optional(),
    tags: z.array(z.string()).optional(),
    backend: emptyAsUnset(z.enum(['iptables', 'nftables'])),
  })
  .passthrough();

describe('goDecode: Go encoding/json key matching on a zod schema', () => {
  it('matches keys case-insensitively and keeps the schema names', () => {
    const out = goParse(Conf, {
      NAME: 'n',
      Mtu: 1400,
      isgateway: true,
      IPAM: {
        Type: 'host-local',
        Ranges: [[{ Subnet: '10.0.0.0/24', RangeStart: '10.0.0.5', GATEWAY: '10.0.0.1' }]],
        DataDir: '/d',
      },
      RuntimeConfig: {
        PortMappings: [{ HostPort: 8080, ContainerPort: 80, Protocol: 'tcp', HostIP: '' }],
        Bandwidth: { IngressRate: 1000 },
      },
    });
    expect(out.success && out.data).toEqual({
      name: 'n',
      mtu: 1400,
      isGateway: true,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.0.0.0/24', rangeStart: '10.0.0.5', gateway: '10.0.0.1' }]],
        dataDir: '/d',
      },
      runtimeConfig: {
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }],
        bandwidth: { ingressRate: 1000 },
      },
    });
  });

  it('applies keys in document order: of two keys naming one field the last wins (as the reference host-local does)', () => {
    expect(goDecode(Range, { subnet: 'a', Subnet: 'b' })).toEqual({ subnet: 'b' });
    expect(goDecode(Range, { Subnet: 'b', subnet: 'a' })).toEqual({ subnet: 'a' });
  });

  it("uses Go's simple case folding (Kelvin sign, long s) and nothing wider", () => {
    expect(goDecode(Range, { '\u017fubnet': 'x' })).toEqual({ subnet: 'x' });
    expect(goDecode(z.object({ k: z.string() }), { '\u212a': 'y' })).toEqual({ k: 'y' });
    expect(goDecode(Range, { 'sub net': 'x' })).toEqual({ 'sub net': 'x' });
  });

  it('treats null as not set, so defaults apply, and zeroes null array elements', () => {
    const out = goParse(Conf, {
      name: null,
      isGateway: null,
      runtimeConfig: null,
      ipam: { dataDir: null },
      tags: ['a', null],
    });
    expect(out.success && out.data).toEqual({ isGateway: false, ipam: {}, tags: ['a', ''] });
  });

  it('keeps the null of an undeclared key (a later decode may declare it) and zeroes a null record value', () => {
    expect(goDecode(Range, { Foo: null, subnet: 'x' })).toEqual({ Foo: null, subnet: 'x' });
    expect(goDecode(z.record(z.boolean()), { portMappings: null })).toEqual({ portMappings: false });
    expect(goDecode(z.record(z.unknown()), { portMappings: null })).toEqual({ portMappings: null });
  });

  it('passes unknown keys through untouched, nested ones included', () => {
    const out = goParse(Conf, { Foo: { Bar: 1 }, runtimeConfig: { Mac: 'x' } });
    expect(out.success && out.data).toEqual({ isGateway: false, Foo: { Bar: 1 }, runtimeConfig: { Mac: 'x' } });
  });

  it('decodes record values and every union member, and never writes a prototype', () => {
    expect(goDecode(Conf, { labels: { One: { Value: 'v' } } })).toEqual({ labels: { One: { value: 'v' } } });
    expect(goDecode(Conf, { either: { Beta: 2 } })).toEqual({ either: { beta: 2 } });
    const out = goDecode(Conf, JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps type errors as errors naming the schema field', () => {
    const out = goParse(Conf, { RuntimeConfig: { PortMappings: [{ HostPort: '80', ContainerPort: 80 }] } });
    expect(out.success).toBe(false);
    expect(!out.success && out.error.issues[0].path).toEqual(['runtimeConfig', 'portMappings', 0, 'hostPort']);
    expect(!out.success && out.error.issues[0].message).toMatch(/expected number/i);
  });

  it('reads "" of an enum-like field as unset, other values still checked', () => {
    expect(goParse(Conf, { backend: '' }).success && goParse(Conf, { backend: '' }).data).toEqual({ isGateway: false });
    expect(goParse(Conf, { Backend: 'nftables' }).data?.backend).toBe('nftables');
    expect(goParse(Conf, { backend: 'ebtables' }).success).toBe(false);
  });

  it('goField and goView read schema-less objects the same way', () => {
    expect(goField({ MAC: 'a', mac: null }, 'mac')).toBeUndefined();
    expect(goDecode(Range, { Subnet: 'a', subnet: null })).toEqual({});
    expect(goField({ mac: 'a', Mac: 'b' }, 'mac')).toBe('b');
    expect(goField(null, 'mac')).toBeUndefined();
    expect(goView({ DeviceID: 'd' }).deviceID).toBe('d');
  });
});

describe('the skeleton decodes every config this way', () => {
  const Plugin = z.object({ ipam: z.object({ subnet: z.string() }).passthrough() }).passthrough();
  let seen: { conf?: unknown; prev?: unknown; rc?: unknown; mac?: unknown } = {};
  const funcs: PluginFuncs = {
    add: (args: CmdArgs) => {
      seen = {
        conf: args.parse(Plugin),
        prev: args.prevResult(),
        rc: args.runtimeConfig.mac,
        mac: args.argsCni('mac'),
      };
      return { cniVersion: '1.0.0' };
    },
    del: () => undefined,
  };
  const env = {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: '/var/run/netns/none',
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/nowhere',
  };

  it('top level, prevResult, runtimeConfig and args are all case-insensitive', async () => {
    const conf = {
      CNIVersion: '1.0.0',
      Name: 'net',
      Type: 'x',
      IPAM: { Subnet: '10.0.0.0/8' },
      PrevResult: {
        CNIVersion: '1.0.0',
        IPs: [{ Address: '10.0.0.2/8', Gateway: '10.0.0.1' }],
        Interfaces: [{ Name: 'eth0', Sandbox: '/ns' }],
      },
      RuntimeConfig: { MAC: '02:00:00:00:00:01' },
      Args: { CNI: { Mac: '02:00:00:00:00:02' } },
      DNS: null,
    };
    const out = await dispatch(funcs, {}, env, () => JSON.stringify(conf));
    expect(out.exitCode, out.stdout).toBe(0);
    expect(seen.conf).toMatchObject({ cniVersion: '1.0.0', name: 'net', ipam: { subnet: '10.0.0.0/8' } });
    expect(seen.prev).toEqual({
      cniVersion: '1.0.0',
      ips: [{ address: '10.0.0.2/8', gateway: '10.0.0.1' }],
      interfaces: [{ name: 'eth0', sandbox: '/ns' }],
    });
    expect(seen.rc).toBe('02:00:00:00:00:01');
    expect(seen.mac).toBe('02:00:00:00:00:02');
  });

  it('a type error is code 7 naming the field and what was expected', async () => {
    const out = await dispatch(funcs, {}, env, () =>
      JSON.stringify({ cniVersion: '1.0.0', name: 'n', ipam: { SUBNET: 10 } }),
    );
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({
      code: 7,
      msg: expect.stringMatching(/ipam\.subnet: Expected string, received number/),
    });
  });

  it('legacy results decode case-insensitively too', () => {
    expect(toCurrentResult({ CNIVersion: '0.2.0', IP4: { IP: '10.0.0.2/8', Gateway: '10.0.0.1' } })).toEqual({
      cniVersion: '0.2.0',
      ips: [{ address: '10.0.0.2/8', gateway: '10.0.0.1' }],
    });
  });
});
