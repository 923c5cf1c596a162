/**
 * The nftables ipMasq backend, laid out like the reference's (v1.6.0+): table
 * `inet cni_plugins_masquerade`, base chain `postrouting` (nat, srcnat) that skips multicast and
 * jumps to `masq_checks`, one rule per pod address there:
 * `ip saddr <ip> ip daddr != <subnet> masquerade comment "<hash(net)>-<hash(if:cid)>, net: …, if: …, id: …"`.
 * Rules are found again by the hash prefix of their comment.
 */
import type { MasqOwner } from './ipmasq';
import { familyOfText, formatCIDR, formatIP, networkOf, parseCIDR } from '../host/ipaddr';
import { hashedName } from '../host/names';
import { nftApply, nftChainRules } from './nft';
import { comment as quoted } from '../host/safe-arg';

const TABLE = 'inet cni_plugins_masquerade';
const CHAIN = 'masq_checks';
const COMMENT_MAX = 128;

const networkHash = (network: string): string => hashedName('', 16, network);
const instanceHash = (o: MasqOwner): string =>
  `${networkHash(o.network)}-${hashedName('', 16, `${o.ifName}:${o.containerID}`)}`;

export function nftMasqComment(o: MasqOwner): string {
  return `${instanceHash(o)}, net: ${o.network}, if: ${o.ifName}, id: ${o.containerID}`.slice(0, COMMENT_MAX);
}

export async function setupIpMasqNft(addresses: readonly string[], owner: MasqOwner): Promise<void> {
  const stale = await rulesWithPrefix(instanceHash(owner));
  const lines = [
    `add table ${TABLE} { comment "Masquerading for plugins from github.com/containernetworking/plugins" ; }`,
    `add chain ${TABLE} ${CHAIN} { comment "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet" ; }`,
    `add chain ${TABLE} postrouting { type nat hook postrouting priority srcnat ; }`,
    `flush chain ${TABLE} postrouting`,
    `add rule ${TABLE} postrouting ip daddr 224.0.0.0/4 return`,
    `add rule ${TABLE} postrouting ip6 daddr ff00::/8 return`,
    `add rule ${TABLE} postrouting goto ${CHAIN}`,
    ...stale.map((h) => `delete rule ${TABLE} ${CHAIN} handle ${h}`),
  ];
  for (const address of addresses) {
    const cidr = parseCIDR(address);
    if (!cidr) throw new Error(`ipMasq: invalid address ${JSON.stringify(address)}`);
    const ip = familyOfText(address) === 4 ? 'ip' : 'ip6';
    lines.push(
      `add rule ${TABLE} ${CHAIN} ${ip} saddr ${formatIP(cidr.ip)} ${ip} daddr != ${formatCIDR(networkOf(cidr))} masquerade comment ${quoted(nftMasqComment(owner))}`,
    );
  }
  await nftApply(lines.join('\n') + '\n');
}

export async function teardownIpMasqNft(owner: MasqOwner): Promise<void> {
  await deleteRules(await rulesWithPrefix(instanceHash(owner)));
}

export const hasIpMasqNft = async (owner: MasqOwner): Promise<boolean> =>
  (await rulesWithPrefix(instanceHash(owner))).length > 0;

export async function gcIpMasqNft(
  network: string,
  valid: readonly { containerID: string; ifname: string }[],
): Promise<void> {
  const keep = new Set(valid.map((a) => nftMasqComment({ network, containerID: a.containerID, ifName: a.ifname })));
  const rules = await nftChainRules('inet', 'cni_plugins_masquerade', CHAIN);
  await deleteRules(
    rules.filter((r) => r.comment?.startsWith(networkHash(network)) && !keep.has(r.comment)).map((r) => r.handle),
  );
}

async function rulesWithPrefix(prefix: string): Promise<number[]> {
  const rules = await nftChainRules('inet', 'cni_plugins_masquerade', CHAIN);
  return rules.filter((r) => r.comment?.startsWith(prefix)).map((r) => r.handle);
}

async function deleteRules(handles: number[]): Promise<void> {
  if (!handles.length) return;
  await nftApply(handles.map((h) => `delete rule ${TABLE} ${CHAIN} handle ${h}`).join('\n') + '\n');
}
