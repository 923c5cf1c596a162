/**
 * flanneld's `-ip-masq` and forward rules. iptables: the FLANNEL-POSTRTG chain (nat, jumped to from
 * POSTROUTING) and FLANNEL-FWD (filter, from FORWARD) with flanneld's comments; nftables when iptables
 * is absent: the table `ip flannel-ipv4`. Applying again rewrites the chains in place (idempotent, kept
 * across restarts); removal takes out exactly what was added.
 */
import { comment, formatCIDR, type CIDR } from '@tscni/net/host';
import { iptablesAvailable, iptablesRestore, iptablesSave, nftApply, nftAvailable, savedChains, savedRules } from '@tscni/net/netfilter';

const MASQ = 'flanneld masq';
const FWD = 'flanneld forward';
const NFT_TABLE = 'flannel-ipv4';
/** kube-proxy's "masquerade me" mark: such packets are left to kube-proxy's own rule. */
const KUBE_MARK = '0x4000/0x4000';

export type Firewall = 'iptables' | 'nftables';

export function pickFirewall(): Firewall {
  if (iptablesAvailable(4)) return 'iptables';
  if (nftAvailable()) return 'nftables';
  throw new Error('-ip-masq needs iptables or nft, and neither is installed');
}

export interface MasqSpec {
  network: CIDR;
  subnet: CIDR;
  masq: boolean;
  forward: boolean;
}

/** The rules of FLANNEL-POSTRTG (without "-A FLANNEL-POSTRTG "). */
export function masqRules(network: CIDR, subnet: CIDR): string[] {
  const n = formatCIDR(network);
  const s = formatCIDR(subnet);
  const c = `-m comment --comment ${comment(MASQ)}`;
  return [
    `-m mark --mark ${KUBE_MARK} ${c} -j RETURN`,
    `-s ${s} -d ${n} ${c} -j RETURN`,
    `-s ${n} -d ${s} ${c} -j RETURN`,
    `! -s ${n} -d ${s} ${c} -j RETURN`,
    `-s ${n} ! -d 224.0.0.0/4 ${c} -j MASQUERADE --random-fully`,
    `! -s ${n} -d ${n} ${c} -j MASQUERADE --random-fully`,
  ];
}

export function forwardRules(network: CIDR): string[] {
  const n = formatCIDR(network);
  const c = `-m comment --comment ${comment(FWD)}`;
  return [`-s ${n} ${c} -j ACCEPT`, `-d ${n} ${c} -j ACCEPT`];
}

interface Hook {
  table: 'nat' | 'filter';
  parent: string;
  chain: string;
  jump: string;
  rules: string[];
}

const hooks = (spec: MasqSpec): Hook[] => [
  ...(spec.masq ? [{ table: 'nat' as const, parent: 'POSTROUTING', chain: 'FLANNEL-POSTRTG', jump: `-m comment --comment ${comment(MASQ)} -j FLANNEL-POSTRTG`, rules: masqRules(spec.network, spec.subnet) }] : []),
  ...(spec.forward ? [{ table: 'filter' as const, parent: 'FORWARD', chain: 'FLANNEL-FWD', jump: `-m comment --comment ${comment(FWD)} -j FLANNEL-FWD`, rules: forwardRules(spec.network) }] : []),
];

/** Install (or rewrite) the rules; one save per table and one restore. */
export async function applyMasq(fw: Firewall, spec: MasqSpec): Promise<void> {
  if (fw === 'nftables') return nftApply(nftScript(spec));
  const lines: string[] = [];
  for (const h of hooks(spec)) {
    const saved = await iptablesSave(4, h.table);
    // Declaring the chain in a --noflush restore empties it: the rules below are its whole content.
    lines.push(`*${h.table}`, `:${h.chain} - [0:0]`, ...h.rules.map((r) => `-A ${h.chain} ${r}`));
    if (!savedRules(saved, h.parent).includes(h.jump)) lines.push(`-A ${h.parent} ${h.jump}`);
    lines.push('COMMIT');
  }
  if (lines.length) await iptablesRestore(4, lines.join('\n') + '\n');
}

/** Remove what applyMasq added (nothing fails when part of it is already gone). */
export async function removeMasq(fw: Firewall, spec: MasqSpec): Promise<void> {
  if (fw === 'nftables') return nftApply(`table ip ${NFT_TABLE} {}\ndelete table ip ${NFT_TABLE}\n`);
  const lines: string[] = [];
  for (const h of hooks(spec)) {
    const saved = await iptablesSave(4, h.table);
    if (!savedChains(saved).has(h.chain)) continue;
    lines.push(`*${h.table}`);
    for (const r of savedRules(saved, h.parent)) if (r.endsWith(`-j ${h.chain}`)) lines.push(`-D ${h.parent} ${r}`);
    lines.push(`-F ${h.chain}`, `-X ${h.chain}`, 'COMMIT');
  }
  if (lines.length) await iptablesRestore(4, lines.join('\n') + '\n');
}

export function nftScript(spec: MasqSpec): string {
  const n = formatCIDR(spec.network);
  const s = formatCIDR(spec.subnet);
  const masq = spec.masq
    ? [
        '  chain postrtg {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        `    meta mark & 0x4000 == 0x4000 return comment ${comment(MASQ)}`,
        `    ip saddr ${s} ip daddr ${n} return comment ${comment(MASQ)}`,
        `    ip saddr ${n} ip daddr ${s} return comment ${comment(MASQ)}`,
        `    ip saddr != ${n} ip daddr ${s} return comment ${comment(MASQ)}`,
        `    ip saddr ${n} ip daddr != 224.0.0.0/4 masquerade fully-random comment ${comment(MASQ)}`,
        `    ip saddr != ${n} ip daddr ${n} masquerade fully-random comment ${comment(MASQ)}`,
        '  }',
      ]
    : [];
  const fwd = spec.forward
    ? ['  chain forward {', '    type filter hook forward priority filter; policy accept;', `    ip saddr ${n} accept comment ${comment(FWD)}`, `    ip daddr ${n} accept comment ${comment(FWD)}`, '  }']
    : [];
  // Declare-then-delete makes the whole table new in one atomic transaction, whatever was there before.
  return [`table ip ${NFT_TABLE} {}`, `delete table ip ${NFT_TABLE}`, `table ip ${NFT_TABLE} {`, ...masq, ...fwd, '}'].join('\n') + '\n';
}
