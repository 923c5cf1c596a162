/**
 * The in-process `ip` (@tscni/net/host/rtnetlink) against the real one: each case runs its invocation through `ip`
 * on namespace A and in-process on a twin B made the same way (a Bun script: bun:ffi does not exist under Node), and
 * compares exit code, stderr, stdout (every field the in-process side prints must be ip's; the fields our callers
 * read must all be there) and the end state of both namespaces (`ip -j` of links, addresses and routes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, missingForKernelTests } from '@tscni/testing/node';

const BUN = join(import.meta.dirname, '../../../node_modules/@oven/bun-linux-x64/bin/bun');
const SCRIPT = join(import.meta.dirname, 'fixtures/ip-twins.ts');
const missing = missingForKernelTests(['ip', 'nsenter']) ?? (existsSync(BUN) ? undefined : 'needs the pinned Bun');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ran?: string;
}

interface Case {
  name: string;
  /** `ip` batch lines run in both namespaces first (`ip -batch`). */
  setup?: string[];
  args: string[];
  input?: string;
  /** A namespace that does not exist (both sides get the same path). */
  gone?: string;
  /** How the in-process side is expected to run it: all `here` (the default), `rest` (ip takes over half-way), `ip`. */
  ran?: 'here' | 'rest' | 'ip';
  /** stdout must be ip's whole JSON, not only the fields rendered (`route get`: every field of it is rendered). */
  exact?: boolean;
  /** Host ends (in the node namespace, `$SIDE` in the name) whose `ip -d link show` must match too. */
  hostDevs?: string[];
}

/** What our callers read of `ip -j` output (the Link and AddrInfo types and the plugins): never left out. */
const CALLER_KEYS = new Set([
  'ifindex',
  'ifname',
  'flags',
  'mtu',
  'operstate',
  'address',
  'link',
  'link_index',
  'link_netnsid',
  'master',
  'txqlen',
  'ifalias',
  'promiscuity',
  'linkinfo',
  'info_kind',
  'info_data',
  'info_slave_kind',
  'info_slave_data',
  'addr_info',
  'family',
  'local',
  'prefixlen',
  'scope',
  'dynamic',
  'tentative',
  'label',
]);

/** Every field of `ours` is ip's (`theirs`), recursively, and no caller-read field of ip's is missing. */
function expectCovered(ours: unknown, theirs: unknown, path = '$'): void {
  if (Array.isArray(ours) && Array.isArray(theirs)) {
    expect(ours.length, `${path}.length`).toBe(theirs.length);
    ours.forEach((o, i) => expectCovered(o, theirs[i], `${path}[${i}]`));
  } else if (ours && theirs && typeof ours === 'object' && typeof theirs === 'object') {
    const o = ours as Record<string, unknown>;
    const t = theirs as Record<string, unknown>;
    for (const k of Object.keys(o)) expectCovered(o[k], t[k], `${path}.${k}`);
    for (const k of Object.keys(t)) if (CALLER_KEYS.has(k)) expect(o, `${path} has ${k}`).toHaveProperty(k);
  } else expect(ours, path).toEqual(theirs);
}

/**
 * Blank what differs between twins by chance: random MACs (and a bridge's ids made of them, unless `keepIds`: the
 * cases that print them pin the MAC), host-side indexes and names, IPv6 link-local addresses, ticking timers.
 */
function blank(l: Record<string, unknown>, keepIds = false): Record<string, unknown> {
  if (l.link_type === 'ether' && !(keepIds && l.address === PINNED_MAC)) l.address = 'MAC';
  if ('link_index' in l) l.link_index = 'N';
  if (typeof l.ifname === 'string') l.ifname = l.ifname.replace(/^(vh)[ab]/, '$1');
  if (typeof l.master === 'string') l.master = l.master.replace(/^(vh)[ab]/, '$1');
  const info = l.linkinfo as Record<string, Record<string, unknown> | undefined> | undefined;
  // A bridge's and its ports' ids follow the bridge MAC; timers tick.
  for (const data of [info?.info_data, info?.info_slave_data])
    for (const k of Object.keys(data ?? {}))
      if (k === 'gc_timer' || (!keepIds && /(_id|_timer|^designated_(root|bridge))$/.test(k))) data![k] = 'X';
  if (Array.isArray(l.addr_info))
    for (const a of l.addr_info as Record<string, unknown>[])
      if (typeof a.local === 'string' && a.local.startsWith('fe80:')) {
        a.local = 'LL';
        // Tentative until the kernel's DAD is done, a second or so after the link came up: when, not what, differs.
        delete a.tentative;
      }
  return l;
}

const lines = (stdout: string): unknown[] =>
  stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as Record<string, unknown>[]).map((x) => blank(x, true)));

/** A namespace's links, addresses and routes as `ip -j` prints them (random MACs and peers' indexes blanked). */
function endState(ns: string): unknown {
  const ip = (...args: string[]) => {
    const r = spawnSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout || '[]') as Record<string, unknown>[];
  };
  const ll = (r: Record<string, unknown>) => {
    if (typeof r.dst === 'string' && r.dst.startsWith('fe80:') && r.dst !== 'fe80::/64') r.dst = 'LL';
    return r;
  };
  return {
    links: ip('-d', 'link', 'show').map((l) => blank(l)),
    addrs: ip('addr', 'show').map((l) => blank(l)),
    // (`table all` lists every family's routes: a link that is up has its IPv6 link-local ones there too. The local
    // route of a link-local address appears once its DAD is done: timing, as its `tentative` flag in blank().)
    routes4: ip('route', 'show', 'table', 'all')
      .map(ll)
      .filter((r) => !(r.dst === 'LL' && r.table === 'local')),
    routes6: ip('-6', 'route', 'show', 'table', 'all')
      .map(ll)
      .filter((r) => !(r.dst === 'LL' && r.table === 'local')),
  };
}

/** A bridge's MAC in the cases that print its ids (`8000.2:0:0:0:a:b`). */
const PINNED_MAC = '02:00:00:00:0a:0b';

/** A veth's host end, made by the pod batch in the node namespace (one per side). */
const HOST_END = 'vh$SIDE';

const CASES: Case[] = [
  {
    name: 'bridge/ptp pod batch: veth with its host end sent home, addresses, up, routes, link show',
    args: ['-j', '-batch', '-'],
    input: [
      `link add eth0 mtu 1400 address 0a:58:0a:16:00:05 type veth peer name ${HOST_END} mtu 1400 netns $HOME_NS`,
      'addr add 10.22.0.5/24 dev eth0',
      'addr add fd22::5/64 dev eth0 nodad',
      'link set dev eth0 up',
      'route add 0.0.0.0/0 via 10.22.0.1 dev eth0',
      'route add 10.30.0.0/16 dev eth0 metric 7',
      'route add 10.31.0.0/16 via 10.22.0.1 dev eth0 table 100 scope 0',
      'route add ::/0 via fd22::1 dev eth0',
      'link show dev eth0',
      '',
    ].join('\n'),
    hostDevs: [HOST_END],
  },
  {
    name: 'ptp pod batch: addresses without prefix routes, routes with a source and a scope',
    args: ['-j', '-batch', '-'],
    input: [
      `link add eth0 type veth peer name ${HOST_END} netns $HOME_NS`,
      'addr add 10.23.0.5/24 dev eth0 noprefixroute',
      'addr add fd23::5/64 dev eth0 nodad noprefixroute',
      'link set dev eth0 up',
      'route add 10.23.0.1/32 dev eth0 scope link src 10.23.0.5',
      'route add 10.23.0.0/24 via 10.23.0.1 dev eth0 src 10.23.0.5',
      'route add 0.0.0.0/0 via 10.23.0.1 dev eth0',
      'link show dev eth0',
      '',
    ].join('\n'),
    hostDevs: [HOST_END],
  },
  {
    name: 'ptp host batch: up, gateway addresses, host routes to the pod',
    setup: ['link add vh0 type veth peer name vp0'],
    args: ['-j', '-batch', '-'],
    input: [
      'link set dev vh0 up',
      'addr add 10.23.0.1/32 dev vh0',
      'addr add fd23::1/128 dev vh0 nodad',
      'route add 10.23.0.5/32 dev vh0 scope host',
      'link show dev vh0',
      '',
    ].join('\n'),
  },
  {
    name: 'veth without MTU or MAC, the peer left in the pod',
    args: ['-batch', '-'],
    input: 'link add eth1 type veth peer name eth1p\n',
  },
  {
    name: 'bridge host batch: bridge up promisc, port enslaved with hairpin and isolation, up, reads',
    setup: ['link add br0 type bridge', 'link add vh0 type veth peer name vp0', 'addr add 10.22.0.1/24 dev br0'],
    args: ['-j', '-batch', '-'],
    input: [
      'link set dev br0 up promisc on',
      'link set dev vh0 master br0',
      'link set dev vh0 type bridge_slave hairpin on isolated on',
      'link set dev vh0 up',
      'addr show dev br0',
      'link show dev vh0',
      '',
    ].join('\n'),
  },
  {
    name: "bridge lookup: -d link show of a new bridge (its info_data as iproute2's bridge code prints it)",
    setup: [`link add br0 address ${PINNED_MAC} type bridge`],
    args: ['-j', '-d', 'link', 'show', 'dev', 'br0'],
  },
  {
    name: 'bridge lookup: -d link show of a bridge that is up with a port',
    setup: [
      `link add br0 address ${PINNED_MAC} type bridge`,
      'link add vh0 type veth peer name vp0',
      'link set dev vh0 master br0',
      'link set dev vh0 up',
      'link set dev br0 up',
    ],
    args: ['-j', '-d', 'link', 'show', 'dev', 'br0'],
  },
  {
    name: "-d link show of a bridge's port (its bridge_slave data, a new port's)",
    setup: [
      `link add br0 address ${PINNED_MAC} type bridge`,
      'link add vh0 type veth peer name vp0',
      'link set dev vh0 master br0',
    ],
    args: ['-j', '-d', 'link', 'show', 'dev', 'vh0'],
  },
  {
    name: '-d link show of a veth',
    setup: ['link add vh0 type veth peer name vp0'],
    args: ['-j', '-d', 'link', 'show', 'dev', 'vh0'],
  },
  {
    name: "-d link show of a bridge's port (its bridge_slave data)",
    setup: [
      `link add br0 address ${PINNED_MAC} type bridge`,
      'link add vh0 type veth peer name vp0',
      'link set dev vh0 master br0',
      'link set dev vh0 type bridge_slave hairpin on isolated on',
      'link set dev br0 up',
      'link set dev vh0 up',
    ],
    args: ['-j', '-d', 'link', 'show', 'dev', 'vh0'],
  },
  {
    name: 'bandwidth CHECK: -d link show of every link (a bridge, its port, a veth, an IFB, lo)',
    setup: [
      `link add br0 address ${PINNED_MAC} type bridge`,
      'link add vh0 type veth peer name vp0',
      'link set dev vh0 master br0',
      'link add name bwp0 txqueuelen 0 type ifb',
      'link set dev lo up',
    ],
    args: ['-j', '-d', 'link', 'show'],
  },
  {
    name: 'bandwidth ADD: an IFB made, up and read, then every link, in one batch',
    setup: [
      `link add br0 address ${PINNED_MAC} type bridge`,
      'link add vh0 type veth peer name vp0',
      'link set dev vh0 master br0',
    ],
    args: ['-d', '-j', '-batch', '-'],
    input: [
      'link add name bwp0 txqueuelen 0 type ifb',
      'link set dev bwp0 up',
      'link show dev bwp0',
      'link show',
      '',
    ].join('\n'),
  },
  {
    name: 'bandwidth ADD: an IFB whose name is taken',
    setup: ['link add name bwp0 type ifb'],
    args: ['-d', '-j', '-batch', '-'],
    input: 'link add name bwp0 txqueuelen 0 type ifb\nlink set dev bwp0 up\nlink show dev bwp0\nlink show\n',
  },
  {
    name: "bandwidth ADD: the IFB gets the host veth's MTU",
    setup: ['link add name bwp0 txqueuelen 0 type ifb'],
    args: ['-batch', '-'],
    input: 'link set dev bwp0 mtu 1400\n',
  },
  {
    name: 'an MTU the device refuses',
    setup: ['link add name bwp0 type ifb'],
    args: ['-batch', '-'],
    input: 'link set dev bwp0 mtu 70000\n',
  },
  {
    name: 'bandwidth DEL: the IFB deleted',
    setup: ['link add name bwp0 txqueuelen 0 type ifb'],
    args: ['-batch', '-'],
    input: 'link del dev bwp0\n',
  },
  {
    name: 'portmap ADD: route get of an address on a connected link',
    setup: [
      'link add br0 type bridge',
      'link set dev br0 addrgenmode none',
      'link set dev br0 up',
      'addr add 10.72.0.1/24 dev br0',
    ],
    args: ['-j', 'route', 'get', '10.72.0.3'],
    exact: true,
  },
  {
    name: 'route get via a gateway',
    setup: [
      'link add eth0 type veth peer name x0',
      'link set dev eth0 addrgenmode none',
      'link set dev x0 addrgenmode none',
      'link set dev x0 up',
      'link set dev eth0 up',
      'addr add 10.22.0.5/24 dev eth0',
      'route add default via 10.22.0.1 dev eth0',
    ],
    args: ['-j', 'route', 'get', '10.99.1.2'],
    exact: true,
  },
  {
    name: 'route get of a local address (type local, cache local)',
    setup: ['link set dev lo up', 'addr add 10.9.0.1/32 dev lo'],
    args: ['-j', 'route', 'get', '10.9.0.1'],
    exact: true,
  },
  {
    name: '-d route get (type, table, protocol and scope shown)',
    setup: [
      'link add br0 type bridge',
      'link set dev br0 addrgenmode none',
      'link set dev br0 up',
      'addr add 10.72.0.1/24 dev br0',
    ],
    args: ['-j', '-d', 'route', 'get', '10.72.0.3'],
    exact: true,
  },
  {
    name: 'route get of an IPv6 address',
    setup: [
      'link add eth0 type veth peer name x0',
      'link set dev eth0 addrgenmode none',
      'link set dev x0 addrgenmode none',
      'link set dev x0 up',
      'link set dev eth0 up',
      'addr add fd22::5/64 dev eth0 nodad',
    ],
    args: ['-j', 'route', 'get', 'fd22::9'],
    exact: true,
  },
  {
    name: 'route get of an unreachable address',
    args: ['-j', 'route', 'get', '10.99.1.2'],
    exact: true,
  },
  {
    name: 'route get to an unreachable route',
    setup: ['link set dev lo up', 'route add unreachable 10.98.0.0/16'],
    args: ['-j', 'route', 'get', '10.98.1.2'],
    exact: true,
  },
  {
    name: 'a veth whose name is taken',
    setup: ['link add eth0 type veth peer name x0'],
    args: ['-j', '-batch', '-'],
    input: `link add eth0 type veth peer name ${HOST_END} netns $HOME_NS\nlink show dev eth0\n`,
  },
  {
    name: 'an address that is there already',
    setup: ['link add eth0 type veth peer name x0', 'addr add 10.22.0.5/24 dev eth0'],
    args: ['-batch', '-'],
    input: 'addr add 10.22.0.5/24 dev eth0\n',
  },
  {
    name: 'a route via a gateway not on the link',
    setup: ['link add eth0 type veth peer name x0', 'addr add 10.22.0.5/24 dev eth0', 'link set dev eth0 up'],
    args: ['-batch', '-'],
    input: 'route add 10.40.0.0/16 via 10.99.0.1 dev eth0\n',
  },
  {
    name: 'a route that is there already',
    setup: ['link add eth0 type veth peer name x0', 'link set dev eth0 up', 'route add 10.40.0.0/16 dev eth0'],
    args: ['-batch', '-'],
    input: 'route add 10.40.0.0/16 dev eth0\n',
  },
  {
    name: 'an address on a missing device',
    args: ['-batch', '-'],
    input: 'addr add 10.22.0.5/24 dev nope0\n',
  },
  {
    name: 'a missing master: ip itself says so (it exits at parse time)',
    setup: ['link add eth0 type veth peer name x0'],
    args: ['-batch', '-'],
    input: 'link set dev eth0 up\nlink set dev eth0 master nope0\n',
    ran: 'rest',
  },
  {
    name: "what follows a link show in a batch is ip's (its preferred family is AF_PACKET then)",
    setup: ['link set dev lo up'],
    args: ['-j', '-batch', '-'],
    input: 'link set dev lo up\nlink show dev lo\naddr show dev lo\n',
    ran: 'rest',
  },
  {
    name: 'loopback ADD: lo up, its addresses',
    args: ['-j', '-batch', '-'],
    input: 'link set dev lo up\naddr show dev lo\n',
  },
  {
    name: 'loopback DEL: lo down',
    setup: ['link set dev lo up'],
    args: ['-batch', '-'],
    input: 'link set dev lo down\n',
  },
  {
    name: 'loopback CHECK: -d link show dev lo',
    setup: ['link set dev lo up'],
    args: ['-j', '-d', 'link', 'show', 'dev', 'lo'],
  },
  { name: 'link show of a link that is down', args: ['-j', 'link', 'show', 'dev', 'lo'] },
  {
    name: 'addr show scope global, with global and host addresses',
    setup: [
      'link set dev lo up',
      'addr add 10.1.2.3/24 dev lo',
      'addr add fd00::5/64 dev lo nodad',
      'addr add 10.9.0.1/32 dev lo',
    ],
    args: ['-j', 'addr', 'show', 'dev', 'lo', 'scope', 'global'],
  },
  {
    name: 'addr show scope global, none global (ip prints no link)',
    setup: ['link set dev lo up'],
    args: ['-j', 'addr', 'show', 'dev', 'lo', 'scope', 'global'],
  },
  { name: 'addr show scope global, no address at all', args: ['-j', 'addr', 'show', 'dev', 'lo', 'scope', 'global'] },
  {
    name: 'a batch stops at its first failure (missing device), the output before it kept',
    args: ['-j', '-batch', '-'],
    input: 'link set dev lo up\naddr show dev lo\nlink set dev nope0 up\nlink set dev lo down\n',
  },
  { name: 'link show of a missing device', args: ['-j', 'link', 'show', 'dev', 'nope0'] },
  { name: '-d link show of a missing device', args: ['-j', '-d', 'link', 'show', 'dev', 'nope0'] },
  { name: 'addr show of a missing device', args: ['-j', 'addr', 'show', 'dev', 'nope0'] },
  { name: 'link set of a missing device', args: ['link', 'set', 'dev', 'nope0', 'down'] },
  { name: 'link del of a missing device', args: ['link', 'del', 'dev', 'nope0'] },
  {
    name: 'link del of a veth (its peer goes too)',
    setup: ['link add tv0 type veth peer name tv1'],
    args: ['-batch', '-'],
    input: 'link del dev tv0\n',
  },
  {
    name: 'link del of a device the kernel will not delete (lo)',
    args: ['link', 'del', 'dev', 'lo'],
  },
  {
    name: 'a namespace that is gone (ip -n)',
    gone: '/var/run/netns/tscni-gone-ns',
    args: ['-batch', '-'],
    input: 'link set dev lo down\n',
  },
  {
    name: 'a namespace that is gone (nsenter)',
    gone: '/proc/999999999/ns/net',
    args: ['-batch', '-'],
    input: 'link set dev lo down\n',
  },
];

describe.skipIf(!!missing)(`in-process ip against ip${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  let results: { ip: Outcome; here: Outcome }[];
  const twins: [string, string][] = [];

  beforeAll(() => {
    node = new TestNode('rtnl');
    for (const c of CASES) {
      const pair: [string, string] = c.gone ? [c.gone, c.gone] : [node.addPod('a'), node.addPod('b')];
      for (const ns of c.gone ? [] : pair)
        if (c.setup?.length) {
          const r = spawnSync('ip', ['-n', ns.split('/').pop()!, '-batch', '-'], { input: c.setup.join('\n') + '\n' });
          if (r.status !== 0) throw new Error(`setup of ${c.name}: ${r.stderr}`);
        }
      twins.push(pair);
    }
    const input = JSON.stringify(
      CASES.map((c, i) => ({ args: c.args, input: c.input, a: twins[i][0], b: twins[i][1] })),
    );
    const r = spawnSync('nsenter', [`--net=${node.path}`, '--', BUN, SCRIPT], { input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip-twins.ts: ${r.stderr}`);
    results = JSON.parse(r.stdout) as typeof results;
  });
  afterAll(() => node?.destroy());

  CASES.forEach((c, i) =>
    it(c.name, () => {
      const { ip, here } = results[i];
      expect(here.ran, 'done in-process').toBe(c.ran ?? 'here');
      if (here.ran === 'ip') return; // nothing done here: ip ran it (the runner spawns it)
      expect(here.code).toBe(ip.code);
      expect(here.stderr).toBe(ip.stderr);
      expectCovered(lines(here.stdout), lines(ip.stdout));
      if (c.exact) expect(lines(here.stdout)).toEqual(lines(ip.stdout));
      if (!c.gone) expect(endState(twins[i][1].split('/').pop()!)).toEqual(endState(twins[i][0].split('/').pop()!));
      for (const dev of c.hostDevs ?? []) {
        const show = (side: string) =>
          lines(node.exec('ip', ['-j', '-d', 'link', 'show', 'dev', dev.replace('$SIDE', side)])).map((a) =>
            (a as Record<string, unknown>[]).map((l) => ({ ...l, ifindex: 'N', link_netnsid: 'N' })),
          );
        expect(show('b')).toEqual(show('a'));
      }
    }),
  );
});
