/**
 * The differential corpus: per plugin, a valid base config and the fields to mutate; every field is
 * mutated by key case (Capitalised, UPPER), `null`, `""` and a missing key, plus whole-config
 * variants (every key Capitalised, containerd's null extras). Deterministic: the same list every run.
 * `@DATA@` stands for a per-implementation state dir, so both sides allocate from a clean slate.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Path = (string | number)[];

export interface Case {
  id: string;
  conf: Record<string, Json>;
}

export interface PluginCorpus {
  /** The plugin's base config, given the chained prevResult (if any) and the pod netns. */
  base: (ctx: { prevResult?: Json; pod: string }) => Record<string, Json>;
  /** Paths of the fields to mutate. */
  fields: Path[];
}

const hostLocal = (subnet: string) => ({ type: 'host-local', subnet, dataDir: '@DATA@' });

export const CORPUS: Record<string, PluginCorpus> = {
  loopback: {
    base: () => ({ cniVersion: '1.0.0', name: 'dnet', type: 'loopback' }),
    fields: [['cniVersion'], ['name'], ['type']],
  },
  'host-local': {
    base: () => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'bridge',
      ipam: {
        type: 'host-local',
        subnet: '10.93.0.0/24',
        rangeStart: '10.93.0.10',
        rangeEnd: '10.93.0.20',
        gateway: '10.93.0.1',
        routes: [{ dst: '0.0.0.0/0' }, { dst: '10.94.0.0/16', gw: '10.93.0.254' }] as Json[],
        dataDir: '@DATA@',
      },
    }),
    fields: [
      ['cniVersion'],
      ['name'],
      ['ipam'],
      ['ipam', 'type'],
      ['ipam', 'subnet'],
      ['ipam', 'rangeStart'],
      ['ipam', 'rangeEnd'],
      ['ipam', 'gateway'],
      ['ipam', 'routes'],
      ['ipam', 'routes', 0, 'dst'],
      ['ipam', 'routes', 1, 'gw'],
    ],
    // (dataDir is never mutated: without it host-local would write to the system's /var/lib/cni/networks)
  },
  'host-local-ranges': {
    base: () => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'bridge',
      runtimeConfig: {
        ipRanges: [
          [{ subnet: '10.95.0.0/24', rangeStart: '10.95.0.50', rangeEnd: '10.95.0.60', gateway: '10.95.0.1' }],
        ],
      },
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.96.0.0/24' }]], dataDir: '@DATA@' },
    }),
    fields: [
      ['runtimeConfig'],
      ['runtimeConfig', 'ipRanges'],
      ['runtimeConfig', 'ipRanges', 0, 0, 'subnet'],
      ['runtimeConfig', 'ipRanges', 0, 0, 'rangeStart'],
      ['runtimeConfig', 'ipRanges', 0, 0, 'gateway'],
      ['ipam', 'ranges'],
      ['ipam', 'ranges', 0, 0, 'subnet'],
    ],
  },
  static: {
    base: () => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'bridge',
      ipam: {
        type: 'static',
        addresses: [{ address: '10.97.0.5/24', gateway: '10.97.0.1' }],
        routes: [{ dst: '0.0.0.0/0' }],
        dns: { nameservers: ['10.96.0.10'], domain: 'example.org', search: ['example.org'] },
      },
    }),
    fields: [
      ['ipam', 'addresses'],
      ['ipam', 'addresses', 0, 'address'],
      ['ipam', 'addresses', 0, 'gateway'],
      ['ipam', 'routes'],
      ['ipam', 'routes', 0, 'dst'],
      ['ipam', 'dns'],
      ['ipam', 'dns', 'nameservers'],
      ['ipam', 'dns', 'domain'],
      ['ipam', 'dns', 'search'],
    ],
  },
  bridge: {
    base: () => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'bridge',
      bridge: 'dbr0',
      isGateway: true,
      isDefaultGateway: false,
      forceAddress: false,
      ipMasq: true,
      mtu: 1400,
      hairpinMode: true,
      promiscMode: false,
      ipam: hostLocal('10.98.0.0/24'),
    }),
    fields: [
      ['bridge'],
      ['isGateway'],
      ['isDefaultGateway'],
      ['ipMasq'],
      ['mtu'],
      ['hairpinMode'],
      ['ipam'],
      ['ipam', 'subnet'],
    ],
  },
  ptp: {
    base: () => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'ptp',
      ipMasq: true,
      mtu: 1400,
      ipam: hostLocal('10.99.0.0/24'),
    }),
    fields: [['ipMasq'], ['mtu'], ['ipam'], ['ipam', 'subnet'], ['dns']],
  },
  macvlan: {
    base: () => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'macvlan',
      master: 'dmaster0',
      mode: 'bridge',
      mtu: 1400,
      ipam: hostLocal('10.100.0.0/24'),
    }),
    fields: [['master'], ['mode'], ['mtu'], ['ipam'], ['ipam', 'subnet']],
  },
  'host-device': {
    base: () => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'host-device',
      device: 'dhostdev0',
      ipam: { type: 'static', addresses: [{ address: '10.101.0.5/24' }] },
    }),
    fields: [['device'], ['ipam'], ['ipam', 'addresses', 0, 'address']],
  },
  portmap: {
    base: ({ prevResult }) => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'portmap',
      snat: true,
      markMasqBit: 13,
      capabilities: { portMappings: true },
      runtimeConfig: { portMappings: [{ hostPort: 23080, containerPort: 80, protocol: 'tcp', hostIP: '' }] },
      prevResult: prevResult ?? null,
    }),
    fields: [
      ['snat'],
      ['markMasqBit'],
      ['runtimeConfig'],
      ['runtimeConfig', 'portMappings'],
      ['runtimeConfig', 'portMappings', 0, 'hostPort'],
      ['runtimeConfig', 'portMappings', 0, 'containerPort'],
      ['runtimeConfig', 'portMappings', 0, 'protocol'],
      ['runtimeConfig', 'portMappings', 0, 'hostIP'],
      ['prevResult'],
    ],
  },
  bandwidth: {
    base: ({ prevResult }) => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'bandwidth',
      capabilities: { bandwidth: true },
      runtimeConfig: {
        bandwidth: { ingressRate: 1000000, ingressBurst: 100000, egressRate: 2000000, egressBurst: 100000 },
      },
      prevResult: prevResult ?? null,
    }),
    fields: [
      ['runtimeConfig'],
      ['runtimeConfig', 'bandwidth'],
      ['runtimeConfig', 'bandwidth', 'ingressRate'],
      ['runtimeConfig', 'bandwidth', 'ingressBurst'],
      ['runtimeConfig', 'bandwidth', 'egressRate'],
      ['runtimeConfig', 'bandwidth', 'egressBurst'],
      ['prevResult'],
    ],
  },
  'bandwidth-top': {
    base: ({ prevResult }) => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'bandwidth',
      ingressRate: 1000000,
      ingressBurst: 100000,
      egressRate: 2000000,
      egressBurst: 100000,
      prevResult: prevResult ?? null,
    }),
    fields: [['ingressRate'], ['egressBurst']],
  },
  tuning: {
    base: ({ prevResult }) => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'tuning',
      mtu: 1300,
      promisc: true,
      allmulti: true,
      sysctl: { 'net.ipv4.conf.eth0.rp_filter': '2', 'net.ipv4.conf.eth0.accept_local': '1' },
      dataDir: '@DATA@',
      prevResult: prevResult ?? null,
    }),
    fields: [
      ['mtu'],
      ['promisc'],
      ['allmulti'],
      ['sysctl'],
      ['sysctl', 'net.ipv4.conf.eth0.rp_filter'],
      ['prevResult'],
    ],
  },
  firewall: {
    base: ({ prevResult }) => ({
      cniVersion: '1.0.0',
      name: 'dnet',
      type: 'firewall',
      backend: 'iptables',
      iptablesAdminChainName: 'DADMIN',
      prevResult: prevResult ?? null,
    }),
    fields: [
      ['backend'],
      ['iptablesAdminChainName'],
      ['prevResult'],
      ['prevResult', 'ips'],
      ['prevResult', 'cniVersion'],
    ],
  },
};

/** Which binary a corpus entry runs. */
export const pluginOf = (entry: string): string => entry.replace(/-(ranges|top)$/, '');

type Mutation = 'Capitalised' | 'UPPER' | 'null' | 'empty' | 'missing';
const MUTATIONS: Mutation[] = ['Capitalised', 'UPPER', 'null', 'empty', 'missing'];

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const capitalise = (k: string): string => k.charAt(0).toUpperCase() + k.slice(1);

/** Apply one mutation at `path`; undefined when it changes nothing (a one-letter key already in upper case, say). */
function mutate(conf: Record<string, Json>, path: Path, m: Mutation): Record<string, Json> | undefined {
  const out = clone(conf);
  let parent: Json = out;
  for (const step of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[step as string];
  const key = path[path.length - 1];
  if (parent === null || typeof parent !== 'object' || !(key in parent)) return undefined;
  const obj = parent as Record<string | number, Json>;
  if (m === 'null') obj[key] = null;
  else if (m === 'empty') obj[key] = '';
  else if (m === 'missing') delete obj[key];
  else {
    if (typeof key === 'number') return undefined;
    const renamed = m === 'UPPER' ? key.toUpperCase() : capitalise(key);
    if (renamed === key) return undefined;
    // keep the key's position: rebuild the object in order
    const entries = Object.entries(obj).map(([k, v]) => [k === key ? renamed : k, v] as const);
    for (const k of Object.keys(obj)) delete obj[k];
    for (const [k, v] of entries) obj[k] = v;
  }
  return out;
}

/** Every key at every level Capitalised (what a Go runtime marshalling untagged structs sends). */
function capitaliseAll(v: Json, skip = false): Json {
  if (Array.isArray(v)) return v.map((e) => capitaliseAll(e));
  if (v === null || typeof v !== 'object') return v;
  // sysctl names and prevResult are data, not struct fields: keep those keys
  return Object.fromEntries(
    Object.entries(v).map(([k, e]) => [skip ? k : capitalise(k), capitaliseAll(e, k === 'sysctl')]),
  );
}

export function casesFor(entry: string, ctx: { prevResult?: Json; pod: string }): Case[] {
  const { base, fields } = CORPUS[entry];
  const b = base(ctx);
  const out: Case[] = [{ id: `${entry}: base`, conf: b }];
  for (const path of fields) {
    // UPPER CASE only for nested keys (Capitalised covers the top level)
    for (const m of MUTATIONS.filter((x) => x !== 'UPPER' || path.length >= 3)) {
      const conf = mutate(b, path, m);
      if (conf) out.push({ id: `${entry}: ${path.join('.')} ${m}`, conf });
    }
  }
  out.push({ id: `${entry}: every key Capitalised`, conf: capitaliseAll(b) as Record<string, Json> });
  out.push({
    id: `${entry}: null dns, args, runtimeConfig extras`,
    conf: { ...b, dns: null, args: null, ...(b.runtimeConfig === undefined ? { runtimeConfig: null } : {}) },
  });
  return out;
}
