/**
 * The iptables backend, rule for rule the reference's (table nat), so both implementations can share
 * a node and DEL each other's attachments:
 *
 *   PREROUTING, OUTPUT:   -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
 *   CNI-HOSTPORT-DNAT:    -p <proto> -m comment --comment "dnat name: …" -m multiport --dports <≤15> -j CNI-DN-<hash>
 *   CNI-DN-<hash>:        per mapping: [hairpin mark] [localhost mark] DNAT
 *   POSTROUTING (first):  -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
 *   CNI-HOSTPORT-MASQ:    -m mark --mark <bit> -j MASQUERADE;  CNI-HOSTPORT-SETMARK: MARK --set-xmark <bit>
 *
 * Rules are written in the canonical form iptables-save prints, so presence checks are text compares.
 */
import type { CIDR } from '@tscni/net/host';
import { formatCIDR, formatIP, networkOf } from '@tscni/net/host/ipaddr';
import { hashedName } from '@tscni/net/host/names';
import type { IPFamily } from '@tscni/net/netfilter';
import { iptablesRestore, iptablesSave, savedChains } from '@tscni/net/netfilter/iptables';
import {
  declareMissing,
  hasSavedRule,
  restoreArg,
  restoreQuote,
  restoreTable,
  rulesJumpingTo,
  savedComment,
} from '@tscni/net/netfilter/iptables-script';
import type { PortMapper } from './backend';
import { hostDestination, type PortMapConf } from './config';

const TOP_DNAT = 'CNI-HOSTPORT-DNAT';
const SETMARK = 'CNI-HOSTPORT-SETMARK';
const MASQ = 'CNI-HOSTPORT-MASQ';
const OLD_TOP_SNAT = 'CNI-HOSTPORT-SNAT';
const TOP_ENTRY = `-m addrtype --dst-type LOCAL -j ${TOP_DNAT}`;
const MASQ_ENTRY = `-m comment --comment "CNI portfwd requiring masquerade" -j ${MASQ}`;

export const dnatChainName = (netName: string, containerID: string): string =>
  hashedName('CNI-DN-', 28, netName, containerID);
const oldSnatChainName = (netName: string, containerID: string): string =>
  hashedName('CNI-SN-', 28, netName, containerID);
export const dnatComment = (netName: string, containerID: string): string =>
  trimComment(`dnat name: "${netName}" id: "${containerID}"`);

const markDef = (bit: number): string => {
  const hex = `0x${(2 ** bit).toString(16)}`;
  return `${hex}/${hex}`;
};
const setMarkRule = (bit: number) =>
  `-m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark ${markDef(bit)}`;
const masqRule = (bit: number) => `-m mark --mark ${markDef(bit)} -j MASQUERADE`;

/** ADD for one address family: shared chains ensured, the container's chain written fresh. */
export async function forwardPorts(conf: PortMapConf, container: CIDR): Promise<void> {
  const family = container.ip.family;
  const saved = await iptablesSave(family, 'nat');
  const dnat = dnatChainName(conf.netName, conf.containerID);
  const lines: string[] = [];
  const useOwnMark = conf.snat && !conf.externalSetMarkChain;
  lines.push(...declareMissing(saved, [TOP_DNAT, ...(useOwnMark ? [SETMARK, MASQ] : [])]));
  if (useOwnMark) {
    if (!hasSavedRule(saved, SETMARK, setMarkRule(conf.markMasqBit)))
      lines.push(`-A ${SETMARK} ${setMarkRule(conf.markMasqBit)}`);
    if (!hasSavedRule(saved, MASQ, masqRule(conf.markMasqBit))) lines.push(`-A ${MASQ} ${masqRule(conf.markMasqBit)}`);
    if (!hasSavedRule(saved, 'POSTROUTING', MASQ_ENTRY)) lines.push(`-I POSTROUTING 1 ${MASQ_ENTRY}`);
  }
  for (const chain of ['PREROUTING', 'OUTPUT'])
    if (!hasSavedRule(saved, chain, TOP_ENTRY)) lines.push(`-A ${chain} ${TOP_ENTRY}`);
  // Replace the container's chain and its entry rules in one go (a re-ADD leaves no stale rule).
  for (const old of rulesJumpingTo(saved, TOP_DNAT, dnat)) lines.push(`-D ${TOP_DNAT} ${old}`);
  lines.push(`:${dnat} - [0:0]`);
  for (const rule of dnatRules(conf, container)) lines.push(`-A ${dnat} ${rule}`);
  // Entry rules go first in CNI-HOSTPORT-DNAT: the newest container claiming a host port wins.
  for (const rule of entryRules(conf, family).reverse()) lines.push(`-I ${TOP_DNAT} 1 ${rule} -j ${dnat}`);
  await iptablesRestore(family, restoreTable('nat', lines));
}

/** DEL: the container's chain (and the legacy CNI-SN chain) with every rule pointing at it, in both families. */
export async function unforwardPorts(conf: Pick<PortMapConf, 'netName' | 'containerID'>): Promise<void> {
  const failures: string[] = [];
  for (const family of [4, 6] as const) {
    try {
      await teardownChains(family, [
        [TOP_DNAT, dnatChainName(conf.netName, conf.containerID)],
        [OLD_TOP_SNAT, oldSnatChainName(conf.netName, conf.containerID)],
      ]);
    } catch (err) {
      failures.push(`(ip${family === 6 ? '6' : ''}tables) ${(err as Error).message}`);
    }
  }
  // Like the reference: a family whose iptables is unusable is skipped, but not both.
  if (failures.length === 2) throw new Error(`neither iptables nor ip6tables usable: ${failures.join(', ')}`);
}

async function teardownChains(family: IPFamily, chains: [entryChain: string, chain: string][]): Promise<void> {
  const saved = await iptablesSave(family, 'nat');
  const have = savedChains(saved);
  const lines: string[] = [];
  for (const [entry, chain] of chains) {
    for (const rule of rulesJumpingTo(saved, entry, chain)) lines.push(`-D ${entry} ${rule}`);
    if (have.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
  }
  if (lines.length) await iptablesRestore(family, restoreTable('nat', lines));
}

/** CHECK for one family: the container chain holds exactly the expected rules and is reachable. */
export async function checkPorts(conf: PortMapConf, container: CIDR): Promise<void> {
  const family = container.ip.family;
  const saved = await iptablesSave(family, 'nat');
  const dnat = dnatChainName(conf.netName, conf.containerID);
  if (!savedChains(saved).has(dnat)) throw new Error(`chain ${dnat} not found in iptables table nat`);
  for (const rule of dnatRules(conf, container)) {
    if (!hasSavedRule(saved, dnat, rule)) throw new Error(`rule "${rule}" in chain ${dnat} not found in table nat`);
  }
  const entries = rulesJumpingTo(saved, TOP_DNAT, dnat);
  for (const expected of entryRules(conf, family)) {
    const ports = /--dports (\S+)/.exec(expected)![1];
    const proto = /^-p (\S+)/.exec(expected)![1];
    if (!entries.some((e) => e.startsWith(`-p ${proto} `) && e.includes(`--dports ${ports} `))) {
      throw new Error(`entry rule for ${proto} ports ${ports} to ${dnat} not found in chain ${TOP_DNAT}`);
    }
  }
  for (const chain of ['PREROUTING', 'OUTPUT']) {
    if (!hasSavedRule(saved, chain, TOP_ENTRY)) throw new Error(`rule "${TOP_ENTRY}" not found in chain ${chain}`);
  }
}

/** GC: tear down the chains of this network's attachments that are no longer valid (comment names net and id). */
export async function gcPorts(netName: string, validIDs: Set<string>): Promise<void> {
  for (const family of [4, 6] as const) {
    let saved: string;
    try {
      saved = await iptablesSave(family, 'nat');
    } catch {
      continue;
    }
    const stale = new Set<string>();
    for (const line of saved.split('\n')) {
      if (!line.startsWith(`-A ${TOP_DNAT} `)) continue;
      const m = /^dnat name: "(.*)" id: "(.*)"$/.exec(savedComment(line) ?? '');
      if (!m || m[1] !== netName || validIDs.has(m[2])) continue;
      stale.add(m[2]);
    }
    if (stale.size)
      await teardownChains(
        family,
        [...stale].flatMap((id) => [
          [TOP_DNAT, dnatChainName(netName, id)] as [string, string],
          [OLD_TOP_SNAT, oldSnatChainName(netName, id)] as [string, string],
        ]),
      );
  }
}

/** Entry rules of CNI-HOSTPORT-DNAT (without `-j`): one per protocol and 15 ports, protocols sorted. */
function entryRules(conf: PortMapConf, family: IPFamily): string[] {
  const byProto = new Map<string, number[]>();
  for (const m of conf.mappings) byProto.set(m.protocol, [...(byProto.get(m.protocol) ?? []), m.hostPort]);
  const conditions = (family === 4 ? conf.conditionsV4 : conf.conditionsV6).map((c) => restoreArg(c, 'condition'));
  const comment = restoreQuote(dnatComment(conf.netName, conf.containerID));
  const rules: string[] = [];
  for (const proto of [...byProto.keys()].sort()) {
    const ports = byProto.get(proto)!;
    for (let i = 0; i < ports.length; i += 15) {
      rules.push(
        [
          `-p ${proto} -m comment --comment ${comment} -m multiport --dports ${ports.slice(i, i + 15).join(',')}`,
          ...conditions,
        ].join(' '),
      );
    }
  }
  return rules;
}

/** The container chain: for each mapping of this family, the hairpin and localhost marks (snat) and the DNAT. */
function dnatRules(conf: PortMapConf, container: CIDR): string[] {
  const family = container.ip.family;
  const mark = conf.externalSetMarkChain ?? SETMARK;
  const rules: string[] = [];
  for (const m of conf.mappings) {
    const hostDst = hostDestination(m, family);
    if (hostDst === null) continue;
    const base = `${hostDst ? `-d ${hostDst} ` : ''}-p ${m.protocol} -m ${m.protocol} --dport ${m.hostPort}`;
    if (conf.snat) {
      // masqAll: any source (iptables-save prints no `-s 0.0.0.0/0`).
      rules.push(conf.masqAll ? `${base} -j ${mark}` : `-s ${formatCIDR(networkOf(container))} ${base} -j ${mark}`);
      if (family === 4 && !conf.masqAll) rules.push(`-s 127.0.0.1/32 ${base} -j ${mark}`);
    }
    rules.push(`${base} -j DNAT --to-destination ${ipPort(container, m.containerPort)}`);
  }
  return rules;
}

const ipPort = (c: CIDR, port: number): string =>
  c.ip.family === 6 ? `[${formatIP(c.ip)}]:${port}` : `${formatIP(c.ip)}:${port}`;

/** iptables comments are at most 255 characters. */
const trimComment = (text: string): string => (text.length <= 255 ? text : `${text.slice(0, 253)}...`);

export const iptablesPortMapper: PortMapper = {
  forward: forwardPorts,
  check: checkPorts,
  unforward: unforwardPorts,
  gc: (conf, validIDs) => gcPorts(conf.netName, validIDs),
};
