import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import type { Family } from '@tscni/net/host';
import { addrCidr, listAddrs } from '@tscni/net/host/addr';
import { ipBatch } from '@tscni/net/host/ip';
import { cidrContains, parseIP } from '@tscni/net/host/ipaddr';
import { getLink } from '@tscni/net/host/link';
import { withFileLock } from '@tscni/net/host/lock';
import { netnsExists } from '@tscni/net/host/netns';
import type { FamilyRoute } from '@tscni/net/pod';
import { requirePodNetns } from '@tscni/net/pod/link-attachment';
import { routeCopyCommand } from '@tscni/net/pod/route-copy';
import { SbrConf, hostLen, sourceIPs, staticGateways, type SourceIP } from './config';
import {
  FIRST_TABLE,
  listAllRoutes,
  listRules,
  nextFreeTable,
  ruleFromAddress,
  tableId,
  usedTables,
  type RuleInfo,
} from './tables';

type Cmd = (string | number)[];

/**
 * Source-based routing for a chained pod interface: per address a rule `from <ip>/32 table T`; without a
 * configured `table`, T is the first free table from 100 and gets the default route via the gateway and
 * the interface's main-table routes, which leave the main table (the reference's order and choices).
 */
async function add(args: CmdArgs): Promise<Result> {
  const conf = args.parse(SbrConf);
  const gateways = staticGateways(conf);
  const prev = args.prevResult();
  if (!prev) throw new CniError(ErrorCode.InvalidNetworkConfig, 'This plugin must be called as chained plugin');
  const ips = sourceIPs(args, prev, gateways);
  requirePodNetns(args);
  // The reference locks the netns file itself: two sbr ADDs in one pod pick tables one after the other.
  await withFileLock(args.netns, () =>
    conf.table !== undefined ? addRules(args.netns, ips, conf.table) : addRoutedTables(args, ips),
  );
  return prev;
}

async function addRules(netns: string, ips: SourceIP[], table: number): Promise<void> {
  const rules = ips.map((ip): [Family, Cmd] => [
    ip.family,
    ['rule', 'add', 'from', `${ip.address}/${hostLen(ip.family)}`, 'table', table],
  ]);
  await applyRules(netns, rules, []);
}

async function addRoutedTables(args: CmdArgs, ips: SourceIP[]): Promise<void> {
  const [rules4, rules6, routes, link] = await Promise.all([
    listRules(4, args.netns),
    listRules(6, args.netns),
    listAllRoutes(args.netns),
    getLink(args.ifName, args.netns),
  ]);
  if (!link) throw new Error(`Cannot find network interface ${args.ifName} in ${args.netns}`);
  const used = usedTables([...rules4, ...rules6], routes);
  const linkRoutes = routes.filter((r) => r.dev === args.ifName && tableId(r.table) === 254);
  const rules: [Family, Cmd][] = [];
  const routeCmds: Cmd[] = [];
  const tables: number[] = [];
  let table = nextFreeTable(used, FIRST_TABLE);
  for (const ip of ips) {
    tables.push(table);
    rules.push([ip.family, ['rule', 'add', 'from', `${ip.address}/${hostLen(ip.family)}`, 'table', table]]);
    if (ip.gateway)
      routeCmds.push([
        'route',
        'add',
        ip.family === 4 ? '0.0.0.0/0' : '::/0',
        'via',
        ip.gateway,
        'dev',
        args.ifName,
        'table',
        table,
        'proto',
        'unspec',
      ]);
    // A configured gateway must win over the main table's default route (the reference copies that one over it).
    const copied = linkRoutes.filter(
      (r) => belongsTo(r, ip) && !(ip.fixedGateway && r.dst === 'default' && r.family === ip.family),
    );
    for (const r of copied) routeCmds.push(routeCopyCommand('replace', r, args.ifName, table));
    table = nextFreeTable(used, table + 1);
  }
  for (const r of linkRoutes) routeCmds.push(routeCopyCommand('del', r, args.ifName, 'main'));
  const restore = linkRoutes.map((r) => routeCopyCommand('replace', r, args.ifName, 'main'));
  await applyRules(args.netns, rules, routeCmds, async () => {
    await flushTables(args.netns, tables);
    await ipBatch(restore, args.netns, { force: true });
  });
}

/** A main-table route goes with an address when its source or gateway is in the address's subnet, or it has neither. */
function belongsTo(r: FamilyRoute, ip: SourceIP): boolean {
  const inSubnet = (text?: string) => {
    const a = text ? parseIP(text) : undefined;
    return !!a && a.family === ip.family && cidrContains(ip.cidr, a);
  };
  return inSubnet(r.prefsrc) || inSubnet(r.gateway) || (!r.prefsrc && !r.gateway);
}

/**
 * IPv6 rules need `ip -6` (one batch per family); routes infer their family. A failure takes everything
 * back: the rules, the new tables' routes, and the main-table routes that were moved.
 */
async function applyRules(
  netns: string,
  rules: [Family, Cmd][],
  routeCmds: Cmd[],
  undo?: () => Promise<void>,
): Promise<void> {
  const of = (f: Family) => rules.filter(([fam]) => fam === f).map(([, c]) => c);
  try {
    for (const f of [4, 6] as const) {
      if (!of(f).length) continue;
      await ipBatch(of(f), netns, { family: f });
    }
    await ipBatch(routeCmds, netns);
  } catch (err) {
    for (const f of [4, 6] as const) {
      const back = of(f).map((c) => ['rule', 'del', ...c.slice(2)]);
      await ipBatch(back, netns, { family: f, force: true }).catch(() => {});
    }
    await undo?.().catch(() => {});
    throw new Error(`sbr: failed to set up source-based routing: ${(err as Error).message}`);
  }
}

/**
 * DEL removes the rules whose source is an address of the interface (or of prevResult: the link may be
 * gone already) — only those of `table` when it is configured — and, for the tables sbr picked itself,
 * the routes it put in them. Success when the netns or the interface is gone.
 */
async function del(args: CmdArgs): Promise<void> {
  const conf = args.parse(SbrConf);
  if (!args.netns || !netnsExists(args.netns)) return;
  await withFileLock(args.netns, async () => {
    const addresses = await podAddresses(args);
    const linkThere = !!(await getLink(args.ifName, args.netns));
    const flush: number[] = [];
    for (const f of [4, 6] as const) {
      const rules = (await listRules(f, args.netns)).filter(
        (r) =>
          addresses.some((a) => ruleFromAddress(r, a)) && (conf.table === undefined || tableId(r.table) === conf.table),
      );
      if (!rules.length) continue;
      await ipBatch(rules.map(ruleDelete), args.netns, { family: f, force: true });
      if (conf.table === undefined) flush.push(...rules.map((r) => tableId(r.table)).filter((t) => t < 253 || t > 255));
    }
    if (linkThere && flush.length) await flushTables(args.netns, [...new Set(flush)], args.ifName);
  });
}

/** `route flush` only sees one family per process; a table a family does not have is not an error. */
async function flushTables(netns: string, tables: number[], dev?: string): Promise<void> {
  const cmds = tables.map((t): Cmd => ['route', 'flush', 'table', t, ...(dev ? ['dev', dev] : [])]);
  for (const family of [4, 6] as const) await ipBatch(cmds, netns, { family, force: true }).catch(() => {});
}

const ruleDelete = (r: RuleInfo): Cmd => [
  'rule',
  'del',
  'pref',
  r.priority,
  'from',
  r.srclen !== undefined ? `${r.src}/${r.srclen}` : r.src,
  'table',
  tableId(r.table),
];

async function podAddresses(args: CmdArgs): Promise<string[]> {
  const fromLink = await listAddrs(args.ifName, args.netns, 'all').catch(() => []);
  const out = new Set(fromLink.map((a) => addrCidr(a).split('/')[0]));
  const prev = args.prevResult();
  if (prev) for (const ip of sourceIPsOrNone(args, prev)) out.add(ip.address);
  return [...out];
}

const sourceIPsOrNone = (args: CmdArgs, prev: Result): SourceIP[] => {
  try {
    return sourceIPs(args, prev, {});
  } catch {
    return [];
  }
};

/** CHECK: every address of the interface has its rule, and (tables sbr picked) its table routes via the interface. */
async function check(args: CmdArgs): Promise<void> {
  const conf = args.parse(SbrConf);
  const prev = args.requirePrevResult('sbr');
  const ips = sourceIPs(args, prev, staticGateways(conf));
  const [rules4, rules6, routes] = await Promise.all([
    listRules(4, args.netns),
    listRules(6, args.netns),
    listAllRoutes(args.netns),
  ]);
  for (const ip of ips) {
    const rule = (ip.family === 4 ? rules4 : rules6).find(
      (r) => ruleFromAddress(r, ip.address) && (conf.table === undefined || tableId(r.table) === conf.table),
    );
    if (!rule)
      throw new Error(
        `sbr: no rule from ${ip.address} ${conf.table !== undefined ? `to table ${conf.table}` : ''}`.trim(),
      );
    if (conf.table !== undefined || !ip.gateway) continue;
    const t = tableId(rule.table);
    if (!routes.some((r) => tableId(r.table) === t && r.dst === 'default' && r.dev === args.ifName))
      throw new Error(`sbr: table ${t} has no default route via ${args.ifName}`);
  }
}

export const sbr: PluginFuncs = { add, del, check };
