/**
 * The iptables backend's chain names and rules, rule for rule the reference's (table nat), so both implementations
 * can share a node and DEL each other's attachments:
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
import { restoreArg, restoreQuote } from '@tscni/net/netfilter/iptables-script';
import { hostDestination, type PortMapConf, type PortMapping } from './config';

export const TOP_DNAT = 'CNI-HOSTPORT-DNAT';
export const SETMARK = 'CNI-HOSTPORT-SETMARK';
export const MASQ = 'CNI-HOSTPORT-MASQ';
export const OLD_TOP_SNAT = 'CNI-HOSTPORT-SNAT';
export const TOP_ENTRY = `-m addrtype --dst-type LOCAL -j ${TOP_DNAT}`;
export const MASQ_ENTRY = `-m comment --comment "CNI portfwd requiring masquerade" -j ${MASQ}`;

export const dnatChainName = (netName: string, containerID: string): string =>
  hashedName('CNI-DN-', 28, netName, containerID);
export const oldSnatChainName = (netName: string, containerID: string): string =>
  hashedName('CNI-SN-', 28, netName, containerID);
export const dnatComment = (netName: string, containerID: string): string =>
  trimComment(`dnat name: "${netName}" id: "${containerID}"`);

const markDef = (bit: number): string => {
  const hex = `0x${(2 ** bit).toString(16)}`;
  return `${hex}/${hex}`;
};
export const setMarkRule = (bit: number) =>
  `-m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark ${markDef(bit)}`;
export const masqRule = (bit: number) => `-m mark --mark ${markDef(bit)} -j MASQUERADE`;

/** Whether the attachment marks for masquerade through our own SETMARK/MASQ chains (not an external chain). */
export const usesOwnMark = (conf: PortMapConf): boolean => conf.snat && !conf.externalSetMarkChain;

/** Entry rules of CNI-HOSTPORT-DNAT (without `-j`): one per protocol and 15 ports, protocols sorted. */
export function entryRules(
  conf: Pick<PortMapConf, 'netName' | 'containerID' | 'conditionsV4' | 'conditionsV6'>,
  mappings: readonly PortMapping[],
  family: IPFamily,
): string[] {
  const byProto = new Map<string, number[]>();
  for (const m of mappings) byProto.set(m.protocol, [...(byProto.get(m.protocol) ?? []), m.hostPort]);
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
export function dnatRules(conf: PortMapConf, container: CIDR): string[] {
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

/**
 * The container's own part of an ADD, after its chain is declared or created: the chain's rules, then its entry
 * rules first in CNI-HOSTPORT-DNAT (the newest container claiming a host port wins).
 */
export function containerLines(conf: PortMapConf, container: CIDR): string[] {
  const dnat = dnatChainName(conf.netName, conf.containerID);
  return [
    ...dnatRules(conf, container).map((rule) => `-A ${dnat} ${rule}`),
    ...entryRules(conf, conf.mappings, container.ip.family)
      .reverse()
      .map((rule) => `-I ${TOP_DNAT} 1 ${rule} -j ${dnat}`),
  ];
}

const ipPort = (c: CIDR, port: number): string =>
  c.ip.family === 6 ? `[${formatIP(c.ip)}]:${port}` : `${formatIP(c.ip)}:${port}`;

/** iptables comments are at most 255 characters. */
const trimComment = (text: string): string => (text.length <= 255 ? text : `${text.slice(0, 253)}...`);
