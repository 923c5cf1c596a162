/**
 * flanneld's `-ip-masq` and forward rules. iptables: the FLANNEL-POSTRTG chain (nat, jumped to from
 * POSTROUTING) and FLANNEL-FWD (filter, from FORWARD) with flanneld's comments; nftables when iptables
 * is absent: the table `ip flannel-ipv4`. On a dual-stack network the same rules for IPv6 (ip6tables, or
 * the nftables table `ip6 flannel-ipv6`), as flanneld adds them. Applying again rewrites the chains in
 * place (idempotent, kept across restarts); removal takes out exactly what was added.
 */
import { comment, formatCIDR, type CIDR } from '@tscni/net/host';
import {
  iptablesAvailable,
  iptablesRestore,
  iptablesSave,
  nftApply,
  nftAvailable,
  savedChains,
  savedRules,
} from '@tscni/net/netfilter';

const MASQ = 'flanneld masq';
const FWD = 'flanneld forward';
const NFT_TABLE = { 4: 'flannel-ipv4', 6: 'flannel-ipv6' } as const;
const NFT_FAMILY = { 4: 'ip', 6: 'ip6' } as const;
const MULTICAST = { 4: '224.0.0.0/4', 6: 'ff00::/8' } as const;
type Fam = 4 | 6;
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
  /** Dual-stack: the IPv6 network and this node's IPv6 subnet. */
  ipv6?: { network: CIDR; subnet: CIDR };
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
    `-s ${n} ! -d ${MULTICAST[network.ip.family]} ${c} -j MASQUERADE --random-fully`,
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

/** The spec of each family: IPv4, and IPv6 on a dual-stack network. */
const families = (spec: MasqSpec): { fam: Fam; spec: MasqSpec }[] => [
  { fam: 4, spec },
  ...(spec.ipv6
    ? [{ fam: 6 as const, spec: { ...spec, network: spec.ipv6.network, subnet: spec.ipv6.subnet, ipv6: undefined } }]
    : []),
];

const hooks = (spec: MasqSpec): Hook[] => [
  ...(spec.masq
    ? [
        {
          table: 'nat' as const,
          parent: 'POSTROUTING',
          chain: 'FLANNEL-POSTRTG',
          jump: `-m comment --comment ${comment(MASQ)} -j FLANNEL-POSTRTG`,
          rules: masqRules(spec.network, spec.subnet),
        },
      ]
    : []),
  ...(spec.forward
    ? [
        {
          table: 'filter' as const,
          parent: 'FORWARD',
          chain: 'FLANNEL-FWD',
          jump: `-m comment --comment ${comment(FWD)} -j FLANNEL-FWD`,
          rules: forwardRules(spec.network),
        },
      ]
    : []),
];

/** Install (or rewrite) the rules of every family. */
export async function applyMasq(fw: Firewall, spec: MasqSpec): Promise<void> {
  for (const f of families(spec)) await applyFamily(fw, f.fam, f.spec);
}

/** Remove what applyMasq added (nothing fails when part of it is already gone). */
export async function removeMasq(fw: Firewall, spec: MasqSpec): Promise<void> {
  for (const f of families(spec)) await removeFamily(fw, f.fam, f.spec);
}

/** One family's rules: one save per table and one restore. */
async function applyFamily(fw: Firewall, fam: Fam, spec: MasqSpec): Promise<void> {
  if (fw === 'nftables') return nftApply(nftScript(spec));
  const lines: string[] = [];
  for (const h of hooks(spec)) {
    const saved = await iptablesSave(fam, h.table);
    // Declaring the chain in a --noflush restore empties it: the rules below are its whole content.
    lines.push(`*${h.table}`, `:${h.chain} - [0:0]`, ...h.rules.map((r) => `-A ${h.chain} ${r}`));
    if (!savedRules(saved, h.parent).includes(h.jump)) lines.push(`-A ${h.parent} ${h.jump}`);
    lines.push('COMMIT');
  }
  if (lines.length) await iptablesRestore(fam, lines.join('\n') + '\n');
}

async function removeFamily(fw: Firewall, fam: Fam, spec: MasqSpec): Promise<void> {
  const t = `${NFT_FAMILY[fam]} ${NFT_TABLE[fam]}`;
  if (fw === 'nftables') return nftApply(`table ${t} {}\ndelete table ${t}\n`);
  const lines: string[] = [];
  for (const h of hooks(spec)) {
    const saved = await iptablesSave(fam, h.table);
    if (!savedChains(saved).has(h.chain)) continue;
    lines.push(`*${h.table}`);
    for (const r of savedRules(saved, h.parent)) if (r.endsWith(`-j ${h.chain}`)) lines.push(`-D ${h.parent} ${r}`);
    lines.push(`-F ${h.chain}`, `-X ${h.chain}`, 'COMMIT');
  }
  if (lines.length) await iptablesRestore(fam, lines.join('\n') + '\n');
}

/** One family's table (the family of spec.network): `ip flannel-ipv4` or `ip6 flannel-ipv6`. */
export function nftScript(spec: MasqSpec): string {
  const fam = spec.network.ip.family;
  const ip = NFT_FAMILY[fam];
  const table = `${ip} ${NFT_TABLE[fam]}`;
  const n = formatCIDR(spec.network);
  const s = formatCIDR(spec.subnet);
  const masq = spec.masq
    ? [
        '  chain postrtg {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        `    meta mark & 0x4000 == 0x4000 return comment ${comment(MASQ)}`,
        `    ${ip} saddr ${s} ${ip} daddr ${n} return comment ${comment(MASQ)}`,
        `    ${ip} saddr ${n} ${ip} daddr ${s} return comment ${comment(MASQ)}`,
        `    ${ip} saddr != ${n} ${ip} daddr ${s} return comment ${comment(MASQ)}`,
        `    ${ip} saddr ${n} ${ip} daddr != ${MULTICAST[fam]} masquerade fully-random comment ${comment(MASQ)}`,
        `    ${ip} saddr != ${n} ${ip} daddr ${n} masquerade fully-random comment ${comment(MASQ)}`,
        '  }',
      ]
    : [];
  const fwd = spec.forward
    ? [
        '  chain forward {',
        '    type filter hook forward priority filter; policy accept;',
        `    ${ip} saddr ${n} accept comment ${comment(FWD)}`,
        `    ${ip} daddr ${n} accept comment ${comment(FWD)}`,
        '  }',
      ]
    : [];
  // Declare-then-delete makes the whole table new in one atomic transaction, whatever was there before.
  return [`table ${table} {}`, `delete table ${table}`, `table ${table} {`, ...masq, ...fwd, '}'].join('\n') + '\n';
}
