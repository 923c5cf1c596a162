/**
 * The iptables backend (table filter), the reference's chains so both can share a node:
 *
 *   FORWARD (first):   -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
 *   CNI-FORWARD:       first -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN,
 *                      then per address: -d ip/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT, -s ip/32 -j ACCEPT
 *   ingress policy:    FORWARD (first) -j CNI-ISOLATION-STAGE-1;
 *                      STAGE-1: -i br ! -o br -j CNI-ISOLATION-STAGE-2 [isolated: -i br -o br -j DROP], -j RETURN
 *                      STAGE-2: -o br -j DROP, -j RETURN
 *
 * Unlike the reference, each per-address rule also carries `-m comment --comment "tscni-fw n=<net> a=<attachment>"`
 * (hashes of the network name and of network/containerID/ifname), so a DEL without prevResult (after a failed
 * ADD) and GC find them; the reference leaves them behind forever. DEL also removes the reference's uncommented
 * rules of the prevResult's addresses, so a pod added by the reference is cleaned up by ours.
 *
 * Everything for one family goes in one iptables-restore, built against a fresh iptables-save.
 */
import type { IPFamily } from '@tscni/net/netfilter';
import { iptablesRestore, iptablesSave, savedChains, savedRules } from '@tscni/net/netfilter/iptables';
import { RULES_LOCK_PATH, declareMissing, hasSavedRule, restoreTable } from '@tscni/net/netfilter/iptables-script';
import type { CIDR } from '@tscni/net/host';
import { formatIP } from '@tscni/net/host/ipaddr';
import { withFileLock } from '@tscni/net/host/lock';
import { hashedName } from '@tscni/net/host/names';
import type { FirewallBackend } from './backend';
import type { FirewallConf, IngressPolicy } from './config';

const FORWARD_CHAIN = 'CNI-FORWARD';
const STAGE1 = 'CNI-ISOLATION-STAGE-1';
const STAGE2 = 'CNI-ISOLATION-STAGE-2';
const FORWARD_RULE = `-m comment --comment "CNI firewall plugin rules" -j ${FORWARD_CHAIN}`;
const adminRule = (admin: string) => `-m comment --comment "CNI firewall plugin admin overrides" -j ${admin}`;
const hostCidr = (c: CIDR) => `${formatIP(c.ip)}/${c.ip.family === 4 ? 32 : 128}`;

/** The tag of one attachment's rules: `tscni-fw n=<12 hex> a=<16 hex>` (fixed length, no quoting issues). */
export const attachmentTag = (conf: Pick<FirewallConf, 'netName' | 'containerID' | 'ifName'>): string =>
  `${netTag(conf.netName)} a=${hashedName('', 16, conf.netName, '\0', conf.containerID, '\0', conf.ifName)}`;
const netTag = (netName: string) => `tscni-fw n=${hashedName('', 12, netName)}`;
const TAG_RE = /-m comment --comment "(tscni-fw n=[0-9a-f]{12}) a=([0-9a-f]{16})"/;

/** The two accept rules of one address, canonical iptables-save text (tagged, or the reference's untagged form). */
export const addressRules = (c: CIDR, tag?: string): string[] => {
  const t = tag ? ` -m comment --comment "${tag}"` : '';
  return [
    `-d ${hostCidr(c)} -m conntrack --ctstate RELATED,ESTABLISHED${t} -j ACCEPT`,
    `-s ${hostCidr(c)}${t} -j ACCEPT`,
  ];
};

const policyComment = (policy: string) => `-m comment --comment "CNI firewall plugin rules (ingressPolicy: ${policy})"`;
const SAME = policyComment('same-bridge');

/**
 * ADD for one family: chains and jumps ensured, this attachment's earlier rules replaced by its addresses'
 * tagged rules, then the ingress policy.
 */
export async function addFamily(
  conf: FirewallConf,
  family: IPFamily,
  addrs: CIDR[],
  bridge: string | undefined,
): Promise<void> {
  const saved = await iptablesSave(family, 'filter');
  const lines = declareMissing(saved, [FORWARD_CHAIN, conf.adminChain]);
  const has = (chain: string, rule: string) =>
    hasSavedRule(saved, chain, rule) || lines.includes(`-A ${chain} ${rule}`);
  if (!has('FORWARD', FORWARD_RULE)) lines.push(`-I FORWARD 1 ${FORWARD_RULE}`);
  if (!has(FORWARD_CHAIN, adminRule(conf.adminChain)))
    lines.push(`-I ${FORWARD_CHAIN} 1 ${adminRule(conf.adminChain)}`);
  const tag = attachmentTag(conf);
  lines.push(...taggedRules(saved, (t) => t === tag).map((r) => `-D ${FORWARD_CHAIN} ${r}`));
  for (const rule of addrs.flatMap((a) => addressRules(a, tag)))
    if (!lines.includes(`-A ${FORWARD_CHAIN} ${rule}`)) lines.push(`-A ${FORWARD_CHAIN} ${rule}`);
  if (bridge && conf.ingressPolicy !== 'open') lines.push(...isolationLines(saved, bridge, conf.ingressPolicy));
  await iptablesRestore(family, restoreTable('filter', lines));
}

/** Docker-style isolation chains for `bridge` (STAGE-1 jump inserted ahead of CNI-FORWARD). */
function isolationLines(saved: string, bridge: string, policy: IngressPolicy): string[] {
  const lines = declareMissing(saved, [STAGE1, STAGE2]);
  const insert = (chain: string, rule: string) =>
    !hasSavedRule(saved, chain, rule) && lines.push(`-I ${chain} 1 ${rule}`);
  const append = (chain: string, rule: string) =>
    !hasSavedRule(saved, chain, rule) && lines.push(`-A ${chain} ${rule}`);
  insert(STAGE1, `-i ${bridge} ! -o ${bridge} ${SAME} -j ${STAGE2}`);
  if (policy === 'isolated') insert(STAGE1, `-i ${bridge} -o ${bridge} ${policyComment('isolated')} -j DROP`);
  append(STAGE1, `${SAME} -j RETURN`);
  insert(STAGE2, `-o ${bridge} ${SAME} -j DROP`);
  append(STAGE2, `${SAME} -j RETURN`);
  // last, so it lands in front of the CNI-FORWARD jump
  insert('FORWARD', `${SAME} -j ${STAGE1}`);
  return lines;
}

/** CNI-FORWARD rules whose tag (`tscni-fw n=… a=…`) satisfies `match`. */
function taggedRules(saved: string, match: (tag: string, net: string, attachment: string) => boolean): string[] {
  return savedRules(saved, FORWARD_CHAIN).filter((r) => {
    const m = TAG_RE.exec(r);
    return !!m && match(`${m[1]} a=${m[2]}`, m[1], m[2]);
  });
}

/**
 * DEL for one family: every rule tagged with this attachment (no prevResult needed), and the reference's
 * untagged rules of the prevResult's addresses (each rule once, as the reference deletes them).
 */
export async function delFamily(conf: FirewallConf, family: IPFamily, addrs: CIDR[]): Promise<void> {
  const saved = await iptablesSave(family, 'filter');
  const tag = attachmentTag(conf);
  const doomed = [
    ...taggedRules(saved, (t) => t === tag),
    ...addrs.flatMap((a) => addressRules(a)).filter((r) => hasSavedRule(saved, FORWARD_CHAIN, r)),
  ];
  if (doomed.length)
    await iptablesRestore(
      family,
      restoreTable(
        'filter',
        doomed.map((r) => `-D ${FORWARD_CHAIN} ${r}`),
      ),
    );
}

/** GC for one family: this network's tagged rules whose attachment is not among `valid` (their tags). */
export async function gcFamily(netName: string, family: IPFamily, valid: Set<string>): Promise<void> {
  const saved = await iptablesSave(family, 'filter');
  const net = netTag(netName);
  const doomed = taggedRules(saved, (tag, n) => n === net && !valid.has(tag));
  if (doomed.length)
    await iptablesRestore(
      family,
      restoreTable(
        'filter',
        doomed.map((r) => `-D ${FORWARD_CHAIN} ${r}`),
      ),
    );
}

/** CHECK for one family. */
export async function checkFamily(conf: FirewallConf, family: IPFamily, addrs: CIDR[]): Promise<void> {
  const saved = await iptablesSave(family, 'filter');
  const chains = savedChains(saved);
  for (const chain of [FORWARD_CHAIN, conf.adminChain])
    if (!chains.has(chain)) throw new Error(`chain ${chain} not found in table filter`);
  for (const [chain, rule] of [
    ['FORWARD', FORWARD_RULE],
    [FORWARD_CHAIN, adminRule(conf.adminChain)],
  ]) {
    if (!hasSavedRule(saved, chain, rule)) throw new Error(`expected ${chain} rule "${rule}" not found`);
  }
  // each address rule tagged (ours) or untagged (written by the reference, e.g. before an upgrade)
  const tagged = addrs.flatMap((a) => addressRules(a, attachmentTag(conf)));
  addrs
    .flatMap((a) => addressRules(a))
    .forEach((rule, i) => {
      if (!hasSavedRule(saved, FORWARD_CHAIN, tagged[i]) && !hasSavedRule(saved, FORWARD_CHAIN, rule))
        throw new Error(`expected ${FORWARD_CHAIN} rule "${tagged[i]}" not found`);
    });
}

/** Each family in its own iptables-restore; a family whose iptables is unusable (IPv6) has nothing to remove. */
export const iptablesFirewall: FirewallBackend = {
  add: (conf, addrs, bridge) =>
    withFileLock(RULES_LOCK_PATH, async () => {
      const done: IPFamily[] = [];
      try {
        for (const [family, ips] of byFamily(addrs)) {
          await addFamily(conf, family, ips, bridge);
          done.push(family);
        }
      } catch (err) {
        // roll back the family already written (its accept rules; shared chains stay, as in the reference)
        for (const family of done) await delFamily(conf, family, []).catch(() => undefined);
        throw err;
      }
    }),
  del: (conf, addrs) =>
    withFileLock(RULES_LOCK_PATH, async () => {
      // without prevResult both families are searched
      const known = byFamily(addrs ?? []);
      for (const family of addrs ? [...known.keys()] : ([4, 6] as const)) {
        await delFamily(conf, family, known.get(family) ?? []).catch((err) => {
          if (family === 4) throw err;
        });
      }
    }),
  check: async (conf, addrs) => {
    for (const [family, ips] of byFamily(addrs)) await checkFamily(conf, family, ips);
  },
  gc: (conf, attachments) => {
    const valid = new Set(
      attachments.map((a) => attachmentTag({ netName: conf.netName, containerID: a.containerID, ifName: a.ifname })),
    );
    return withFileLock(RULES_LOCK_PATH, async () => {
      for (const family of [4, 6] as const) {
        await gcFamily(conf.netName, family, valid).catch((err) => {
          if (family === 4) throw err;
        });
      }
    });
  },
};

function byFamily(addrs: CIDR[]): Map<IPFamily, CIDR[]> {
  const out = new Map<IPFamily, CIDR[]>();
  for (const a of addrs) out.set(a.ip.family, [...(out.get(a.ip.family) ?? []), a]);
  return out;
}
