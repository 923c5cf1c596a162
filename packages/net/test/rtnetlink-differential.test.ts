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

const lines = (stdout: string): unknown[] =>
  stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as unknown);

/** A namespace's links, addresses and routes as `ip -j` prints them (random MACs and peers' indexes blanked). */
function endState(ns: string): unknown {
  const ip = (...args: string[]) => {
    const r = spawnSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout || '[]') as Record<string, unknown>[];
  };
  const blank = (l: Record<string, unknown>) => {
    if (l.link_type === 'ether') l.address = 'MAC';
    if ('link_index' in l) l.link_index = 'N';
    return l;
  };
  return {
    links: ip('-d', 'link', 'show').map(blank),
    addrs: ip('addr', 'show').map(blank),
    routes4: ip('route', 'show', 'table', 'all'),
    routes6: ip('-6', 'route', 'show', 'table', 'all'),
  };
}

const CASES: Case[] = [
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
      expect(here.ran, 'done in-process').toBe('here');
      expect(here.code).toBe(ip.code);
      expect(here.stderr).toBe(ip.stderr);
      expectCovered(lines(here.stdout), lines(ip.stdout));
      if (!c.gone) expect(endState(twins[i][1].split('/').pop()!)).toEqual(endState(twins[i][0].split('/').pop()!));
    }),
  );
});
