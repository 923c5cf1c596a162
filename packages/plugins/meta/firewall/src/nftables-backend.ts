/**
 * The nftables backend (the reference has none). One `inet` table holds both families:
 *
 *   table inet cni_firewall
 *     forward (filter hook forward, priority 0, policy accept):
 *         jump admin               administrator overrides, run first (an accept here beats isolation);
 *                                  created empty and never touched again
 *         jump isolation_stage_1   ingress policies, per bridge
 *         jump pods                per-attachment accept rules
 *     isolation_stage_1:  iifname "br" oifname != "br" jump isolation_stage_2   [isolated: iifname "br" oifname "br" drop]
 *     isolation_stage_2:  oifname "br" drop
 *     pods:               ip daddr <ip> ct state established,related accept; ip saddr <ip> accept
 *
 * Per-attachment rules are commented `net: <net>, id: <containerID>, if: <ifname>`, so DEL (even without
 * prevResult) and GC find them; bridge rules are commented `ingressPolicy: <policy>, bridge: <br>` and,
 * like the reference's isolation chains, stay while other pods may use the bridge.
 */
import { RULES_LOCK_PATH } from '@tscni/net/netfilter/iptables-script';
import { isNftMissing, nftApply, nftJson } from '@tscni/net/netfilter/nft';
import type { CIDR } from '@tscni/net/host';
import { formatIP } from '@tscni/net/host/ipaddr';
import { withFileLock } from '@tscni/net/host/lock';
import { comment as quoted } from '@tscni/net/host/safe-arg';
import type { FirewallBackend } from './backend';
import type { FirewallConf, IngressPolicy } from './config';

const T = 'inet cni_firewall';

interface NftRule {
  chain: string;
  handle: number;
  comment?: string;
}

export const attachmentComment = (netName: string, containerID: string, ifName: string): string =>
  `net: ${netName}, id: ${containerID}, if: ${ifName}`;
const bridgeComment = (policy: string, bridge: string) => `ingressPolicy: ${policy}, bridge: ${bridge}`;

/** The accept rules of one address (without comment). */
export function addressRulesNft(c: CIDR): string[] {
  const fam = c.ip.family === 4 ? 'ip' : 'ip6';
  const ip = formatIP(c.ip);
  return [`${fam} daddr ${ip} ct state established,related accept`, `${fam} saddr ${ip} accept`];
}

/** ADD: skeleton (idempotent), this attachment's old rules replaced, bridge rules added once; one transaction. */
export async function addNft(conf: FirewallConf, addrs: CIDR[], bridge: string | undefined): Promise<void> {
  const existing = await listRules();
  const comment = attachmentComment(conf.netName, conf.containerID, conf.ifName);
  const lines = [`add table ${T} { comment "CNI firewall plugin" ; }`];
  for (const chain of ['admin', 'isolation_stage_1', 'isolation_stage_2', 'pods'])
    lines.push(`add chain ${T} ${chain}`);
  lines.push(
    `add chain ${T} forward { type filter hook forward priority 0 ; policy accept ; }`,
    `flush chain ${T} forward`,
  );
  for (const chain of ['admin', 'isolation_stage_1', 'pods']) lines.push(`add rule ${T} forward jump ${chain}`);
  for (const r of existing.filter((r) => r.comment === comment))
    lines.push(`delete rule ${T} ${r.chain} handle ${r.handle}`);
  for (const rule of addrs.flatMap(addressRulesNft))
    lines.push(`add rule ${T} pods ${rule} comment ${quoted(comment)}`);
  if (bridge && conf.ingressPolicy !== 'open') lines.push(...isolationLines(existing, bridge, conf.ingressPolicy));
  await nftApply(lines.join('\n') + '\n');
}

function isolationLines(existing: NftRule[], bridge: string, policy: IngressPolicy): string[] {
  const lines: string[] = [];
  const ensure = (chain: string, p: string, rule: string, insert = false) => {
    const comment = bridgeComment(p, bridge);
    if (!existing.some((r) => r.chain === chain && r.comment === comment))
      lines.push(`${insert ? 'insert' : 'add'} rule ${T} ${chain} ${rule} comment ${quoted(comment)}`);
  };
  ensure('isolation_stage_1', 'same-bridge', `iifname "${bridge}" oifname != "${bridge}" jump isolation_stage_2`);
  if (policy === 'isolated')
    ensure('isolation_stage_1', 'isolated', `iifname "${bridge}" oifname "${bridge}" drop`, true);
  ensure('isolation_stage_2', 'same-bridge', `oifname "${bridge}" drop`);
  return lines;
}

/** DEL: the attachment's rules, found by comment (no prevResult needed). */
export async function delNft(conf: FirewallConf): Promise<void> {
  const comment = attachmentComment(conf.netName, conf.containerID, conf.ifName);
  await deleteRules((r) => r.comment === comment);
}

/** GC: this network's attachment rules whose (containerID, ifname) is not valid any more. */
export async function gcNft(netName: string, valid: Set<string>): Promise<void> {
  await deleteRules((r) => {
    const m = /^net: (\S+), id: (\S+), if: (\S+)$/.exec(r.comment ?? '');
    return !!m && m[1] === netName && !valid.has(`${m[2]}/${m[3]}`);
  });
}

async function deleteRules(match: (r: NftRule) => boolean): Promise<void> {
  const doomed = (await listRules()).filter(match);
  if (doomed.length)
    await nftApply(doomed.map((r) => `delete rule ${T} ${r.chain} handle ${r.handle}`).join('\n') + '\n');
}

/** CHECK: the forward hook, and both rules of every address of the attachment. */
export async function checkNft(conf: FirewallConf, addrs: CIDR[]): Promise<void> {
  const rules = await listRules();
  if (!rules.some((r) => r.chain === 'forward')) throw new Error(`chain forward of table ${T} not found`);
  const comment = attachmentComment(conf.netName, conf.containerID, conf.ifName);
  const mine = rules.filter((r) => r.chain === 'pods' && r.comment === comment).length;
  if (mine < addrs.length * 2)
    throw new Error(`expected ${addrs.length * 2} rules for "${comment}" in chain pods of table ${T}, found ${mine}`);
}

async function listRules(): Promise<NftRule[]> {
  try {
    return (await nftJson(['list', 'table', 'inet', 'cni_firewall']))
      .filter((i) => 'rule' in i)
      .map((i) => i.rule as NftRule);
  } catch (err) {
    if (isNftMissing(err)) return [];
    throw err;
  }
}

/** One `nft -f` transaction per verb, under the rules lock. */
export const nftablesFirewall: FirewallBackend = {
  add: (conf, addrs, bridge) => withFileLock(RULES_LOCK_PATH, () => addNft(conf, addrs, bridge)),
  del: (conf) => withFileLock(RULES_LOCK_PATH, () => delNft(conf)),
  check: checkNft,
  gc: (conf, attachments) =>
    withFileLock(RULES_LOCK_PATH, () =>
      gcNft(conf.netName, new Set(attachments.map((a) => `${a.containerID}/${a.ifname}`))),
    ),
};
