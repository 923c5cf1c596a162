/**
 * The nftables backend (the layout of the reference's v1.6+ backend, so either can DEL the other's rules):
 *
 *   table ip|ip6 cni_hostport
 *     prerouting (nat, -100):   [conditions] fib daddr type local jump hostports_all
 *     output (nat, -100):       [conditions] fib daddr type local jump hostports_all
 *     hostports_all:            jump hostip_hostports; jump hostports
 *     hostports:                [ip daddr <hostIP>] <proto> dport <hostPort> dnat to <ip>:<port>
 *     masquerading (nat, 100):  [ip saddr <pod subnet>|127.0.0.1] ip daddr <ip> <proto> dport <port> ct status dnat masquerade
 *
 * Every rule of an attachment carries the container ID as its comment; DEL deletes by that comment.
 */
import type { CIDR } from '@tscni/net/host';
import { withFileLock } from '@tscni/net/host/lock';
import { formatCIDR, formatIP, networkOf } from '@tscni/net/host/ipaddr';
import type { IPFamily } from '@tscni/net/netfilter';
import { RULES_LOCK_PATH } from '@tscni/net/netfilter/iptables-script';
import { isNftMissing, nftApply, nftJson } from '@tscni/net/netfilter/nft';
import type { PortMapper } from './backend';
import { hostDestination, type PortMapConf } from './config';

const TABLE = 'cni_hostport';
const RULE_CHAINS = ['hostports', 'hostip_hostports', 'masquerading'] as const;
const tableFamily = (family: IPFamily): 'ip' | 'ip6' => (family === 4 ? 'ip' : 'ip6');

interface NftRule {
  family: string;
  table: string;
  chain: string;
  handle: number;
  comment?: string;
}

/** ADD for one family: the table skeleton (idempotent), this container's old rules dropped, new ones added; one transaction. */
export async function forwardPortsNft(conf: PortMapConf, container: CIDR): Promise<void> {
  const family = container.ip.family;
  const fam = tableFamily(family);
  const t = `${fam} ${TABLE}`;
  const conditions = family === 4 ? conf.conditionsV4 : conf.conditionsV6; // validated in parseConf
  const stale = (await listRules(family)).filter((r) => r.comment === conf.containerID);
  const lines = [
    `add table ${t} { comment "CNI portmap plugin" ; }`,
    ...['hostports', 'hostip_hostports', 'hostports_all'].map((c) => `add chain ${t} ${c}`),
    `flush chain ${t} hostports_all`,
    `add rule ${t} hostports_all jump hostip_hostports`,
    `add rule ${t} hostports_all jump hostports`,
  ];
  for (const [chain, hook] of [
    ['prerouting', 'prerouting'],
    ['output', 'output'],
  ]) {
    lines.push(`add chain ${t} ${chain} { type nat hook ${hook} priority -100 ; }`, `flush chain ${t} ${chain}`);
    lines.push(`add rule ${t} ${chain} ${[...conditions, 'fib daddr type local jump hostports_all'].join(' ')}`);
  }
  if (conf.snat) lines.push(`add chain ${t} masquerading { type nat hook postrouting priority 100 ; }`);
  for (const r of stale) lines.push(`delete rule ${t} ${r.chain} handle ${r.handle}`);
  lines.push(
    ...ruleLines(conf, container).map(
      ([chain, rule]) => `add rule ${t} ${chain} ${rule} comment "${conf.containerID}"`,
    ),
  );
  await nftApply(lines.join('\n') + '\n');
}

/** The container's rules as [chain, rule-without-comment]. */
function ruleLines(conf: PortMapConf, container: CIDR): [string, string][] {
  const family = container.ip.family;
  const fam = tableFamily(family);
  const cip = formatIP(container.ip);
  const subnet = formatCIDR(networkOf(container));
  const out: [string, string][] = [];
  for (const m of conf.mappings) {
    const dst = hostDestination(m, family);
    if (dst === null) continue;
    const daddr = dst ? `${fam} daddr ${dst.replace(/\/(32|128)$/, '')} ` : '';
    const to = family === 6 ? `[${cip}]:${m.containerPort}` : `${cip}:${m.containerPort}`;
    out.push(['hostports', `${daddr}${m.protocol} dport ${m.hostPort} dnat to ${to}`]);
    if (!conf.snat) continue;
    // What the iptables backend marks for masquerade: DNATed connections to this mapping from the pod
    // subnet (hairpin and neighbours, which need it when br_netfilter is off) or any source (masqAll),
    // and from 127.0.0.1 (IPv4).
    const toPod = `${fam} daddr ${cip} ${m.protocol} dport ${m.containerPort} ct status dnat masquerade`;
    out.push(['masquerading', conf.masqAll ? toPod : `${fam} saddr ${subnet} ${toPod}`]);
    if (family === 4 && !conf.masqAll) out.push(['masquerading', `ip saddr 127.0.0.1 ${toPod}`]);
  }
  return out;
}

/** DEL: every rule commented with the container ID, in `families` (both unless told), in one transaction. */
export async function unforwardPortsNft(containerID: string, families: readonly IPFamily[] = [4, 6]): Promise<void> {
  await deleteRules((r) => r.comment === containerID, families);
}

/** GC: rules whose container ID is not among the valid attachments. */
export async function gcPortsNft(validIDs: Set<string>): Promise<void> {
  await deleteRules((r) => r.comment !== undefined && !validIDs.has(r.comment), [4, 6]);
}

/** The families' tables listed side by side, the matching rules deleted in one transaction. */
async function deleteRules(match: (r: NftRule) => boolean, families: readonly IPFamily[]): Promise<void> {
  const listed = await Promise.allSettled(families.map(listRules));
  const failed = listed.find((l) => l.status === 'rejected');
  if (failed) throw failed.reason; // the first family's failure, as when they were read one after the other
  const rules = listed.flatMap((l) => (l.status === 'fulfilled' ? l.value : [])).filter(match);
  if (!rules.length) return;
  await nftApply(rules.map((r) => `delete rule ${r.family} ${TABLE} ${r.chain} handle ${r.handle}`).join('\n') + '\n');
}

/** CHECK for one family: at least one DNAT rule per mapping and the masquerade rules are there. */
export async function checkPortsNft(conf: PortMapConf, container: CIDR): Promise<void> {
  const mine = (await listRules(container.ip.family)).filter((r) => r.comment === conf.containerID);
  const want = ruleLines(conf, container);
  for (const chain of ['hostports', 'masquerading']) {
    const expected = want.filter(([c]) => c === chain).length;
    const found = mine.filter((r) => r.chain === chain).length;
    if (found < expected)
      throw new Error(`missing hostport rules in "${chain}" chain of ${tableFamily(container.ip.family)} ${TABLE}`);
  }
}

/** The rules of our table's rule chains with handle and comment ([] when the table does not exist). */
async function listRules(family: IPFamily): Promise<NftRule[]> {
  try {
    const items = await nftJson(['list', 'table', tableFamily(family), TABLE]);
    return items
      .filter((i) => 'rule' in i)
      .map((i) => i.rule as NftRule)
      .filter((r) => (RULE_CHAINS as readonly string[]).includes(r.chain));
  } catch (err) {
    if (isNftMissing(err)) return [];
    throw err;
  }
}

/** Each family's table read then written, one after the other (two nft transactions), under the rules lock. */
const forward = (conf: PortMapConf, containers: readonly CIDR[]): Promise<void> =>
  withFileLock(RULES_LOCK_PATH, async () => {
    for (const c of containers) await forwardPortsNft(conf, c);
  });

export const nftablesPortMapper: PortMapper = {
  forward,
  check: checkPortsNft,
  unforward: (conf, families) => withFileLock(RULES_LOCK_PATH, () => unforwardPortsNft(conf.containerID, families)),
  gc: (_conf, validIDs) => withFileLock(RULES_LOCK_PATH, () => gcPortsNft(validIDs)),
};
