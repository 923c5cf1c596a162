/**
 * The iptables backend (table filter), exactly the reference's so both can share a node:
 *
 *   FORWARD (first):   -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
 *   CNI-FORWARD:       first -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN,
 *                      then per address: -d ip/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT, -s ip/32 -j ACCEPT
 *   ingress policy:    FORWARD (first) -j CNI-ISOLATION-STAGE-1;
 *                      STAGE-1: -i br ! -o br -j CNI-ISOLATION-STAGE-2 [isolated: -i br -o br -j DROP], -j RETURN
 *                      STAGE-2: -o br -j DROP, -j RETURN
 *
 * Everything for one family goes in one iptables-restore, built against a fresh iptables-save.
 */
import { CniError, ErrorCode } from '@tscni/cni';
import { declareMissing, formatIP, hasSavedRule, iptablesRestore, iptablesSave, restoreTable, savedChains, type CIDR, type IPFamily } from '@tscni/net';
import type { FirewallConf, IngressPolicy } from './config';

const FORWARD_CHAIN = 'CNI-FORWARD';
const STAGE1 = 'CNI-ISOLATION-STAGE-1';
const STAGE2 = 'CNI-ISOLATION-STAGE-2';
const FORWARD_RULE = `-m comment --comment "CNI firewall plugin rules" -j ${FORWARD_CHAIN}`;
const adminRule = (admin: string) => `-m comment --comment "CNI firewall plugin admin overrides" -j ${admin}`;
const hostCidr = (c: CIDR) => `${formatIP(c.ip)}/${c.ip.family === 4 ? 32 : 128}`;

/** The two accept rules of one address, canonical iptables-save text. */
export const addressRules = (c: CIDR): string[] => [`-d ${hostCidr(c)} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`, `-s ${hostCidr(c)} -j ACCEPT`];

const policyComment = (policy: string) => `-m comment --comment "CNI firewall plugin rules (ingressPolicy: ${policy})"`;
const SAME = policyComment('same-bridge');

/** ADD for one family: chains and jumps ensured, the addresses' rules appended unless present, then the ingress policy. */
export async function addFamily(conf: FirewallConf, family: IPFamily, addrs: CIDR[], bridge: string | undefined): Promise<void> {
  const saved = await iptablesSave(family, 'filter');
  const lines = declareMissing(saved, [FORWARD_CHAIN, conf.adminChain]);
  const has = (chain: string, rule: string) => hasSavedRule(saved, chain, rule) || lines.includes(`-A ${chain} ${rule}`);
  if (!has('FORWARD', FORWARD_RULE)) lines.push(`-I FORWARD 1 ${FORWARD_RULE}`);
  if (!has(FORWARD_CHAIN, adminRule(conf.adminChain))) lines.push(`-I ${FORWARD_CHAIN} 1 ${adminRule(conf.adminChain)}`);
  for (const rule of addrs.flatMap(addressRules)) if (!has(FORWARD_CHAIN, rule)) lines.push(`-A ${FORWARD_CHAIN} ${rule}`);
  if (bridge && conf.ingressPolicy !== 'open') lines.push(...isolationLines(saved, bridge, conf.ingressPolicy));
  await iptablesRestore(family, restoreTable('filter', lines));
}

/** Docker-style isolation chains for `bridge` (STAGE-1 jump inserted ahead of CNI-FORWARD). */
function isolationLines(saved: string, bridge: string, policy: IngressPolicy): string[] {
  const lines = declareMissing(saved, [STAGE1, STAGE2]);
  const insert = (chain: string, rule: string) => !hasSavedRule(saved, chain, rule) && lines.push(`-I ${chain} 1 ${rule}`);
  const append = (chain: string, rule: string) => !hasSavedRule(saved, chain, rule) && lines.push(`-A ${chain} ${rule}`);
  insert(STAGE1, `-i ${bridge} ! -o ${bridge} ${SAME} -j ${STAGE2}`);
  if (policy === 'isolated') insert(STAGE1, `-i ${bridge} -o ${bridge} ${policyComment('isolated')} -j DROP`);
  append(STAGE1, `${SAME} -j RETURN`);
  insert(STAGE2, `-o ${bridge} ${SAME} -j DROP`);
  append(STAGE2, `${SAME} -j RETURN`);
  // last, so it lands in front of the CNI-FORWARD jump
  insert('FORWARD', `${SAME} -j ${STAGE1}`);
  return lines;
}

/** DEL for one family: the addresses' accept rules (each rule once, as the reference deletes them). */
export async function delFamily(family: IPFamily, addrs: CIDR[]): Promise<void> {
  const saved = await iptablesSave(family, 'filter');
  const lines = addrs.flatMap(addressRules).filter((r) => hasSavedRule(saved, FORWARD_CHAIN, r)).map((r) => `-D ${FORWARD_CHAIN} ${r}`);
  if (lines.length) await iptablesRestore(family, restoreTable('filter', lines));
}

/** CHECK for one family. */
export async function checkFamily(conf: FirewallConf, family: IPFamily, addrs: CIDR[]): Promise<void> {
  const saved = await iptablesSave(family, 'filter');
  const chains = savedChains(saved);
  for (const chain of [FORWARD_CHAIN, conf.adminChain]) if (!chains.has(chain)) throw new CniError(ErrorCode.Internal, `chain ${chain} not found in table filter`);
  const want: [string, string][] = [['FORWARD', FORWARD_RULE], [FORWARD_CHAIN, adminRule(conf.adminChain)], ...addrs.flatMap(addressRules).map((r): [string, string] => [FORWARD_CHAIN, r])];
  for (const [chain, rule] of want) {
    if (!hasSavedRule(saved, chain, rule)) throw new CniError(ErrorCode.Internal, `expected ${chain} rule "${rule}" not found`);
  }
}
