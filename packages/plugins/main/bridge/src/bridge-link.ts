import type { AddrInfo, Link } from '@tscni/net/host';
import { addrCidr, listAddrs } from '@tscni/net/host/addr';
import { failureReason } from '@tscni/net/host/command-error';
import { ipBatch, isExists } from '@tscni/net/host/ip';
import { jsonArrays } from '@tscni/net/host/ip-json';
import { cidrContains, familyOfText, formatCIDR, parseCIDR } from '@tscni/net/host/ipaddr';
import { getLink } from '@tscni/net/host/link';
import { run } from '@tscni/net/host/runner';
import { token } from '@tscni/net/host/safe-arg';
import { writeSysctl } from '@tscni/net/host/sysctl';
import { vlanRanges, type BridgeConf } from './config';

const fail = (msg: string) => new Error(msg);

/**
 * Make sure the bridge exists (create it with the configured MTU and VLAN filtering). Another ADD
 * creating it at the same moment is fine: EEXIST just means it is there now. Returns the bridge as
 * found before any port joins: its own MAC is the one the result reports and the gateway pins.
 */
export async function ensureBridge(conf: BridgeConf): Promise<Link> {
  let br = await getLink(conf.bridge);
  if (!br) {
    const vlanFiltering = conf.vlan !== 0 || conf.trunk.length > 0;
    const add = [
      'link',
      'add',
      'name',
      conf.bridge,
      ...(conf.mtu ? ['mtu', String(conf.mtu)] : []),
      'type',
      'bridge',
      ...(vlanFiltering ? ['vlan_filtering', '1'] : []),
    ];
    try {
      await ipBatch([add]);
    } catch (err) {
      if (!isExists(err))
        throw fail(
          `failed to create bridge ${JSON.stringify(conf.bridge)}: ${why(err)}${vlanFiltering ? ' (VLAN filtering needs CONFIG_BRIDGE_VLAN_FILTERING)' : ''}`,
        );
    }
    br = await getLink(conf.bridge);
  }
  if (!br) throw fail(`could not lookup ${JSON.stringify(conf.bridge)}: link vanished`);
  if (br.linkinfo?.info_kind !== 'bridge')
    throw fail(`${JSON.stringify(conf.bridge)} already exists but is not a bridge`);
  // We own the routes of this interface: no router advertisements. And no DAD for the link-local address the
  // bridge gets with its first port: while it is tentative the node sends no neighbour solicitation from the
  // bridge, so IPv6 forwarded to the first pod of a new bridge waits 1–2 s (its gateway addresses skip DAD too).
  const conf6 = `net.ipv6.conf.${conf.bridge.replace(/\./g, '/')}`;
  try {
    writeSysctl(`${conf6}.accept_ra`, '0');
    writeSysctl(`${conf6}.accept_dad`, '0');
  } catch {
    /* IPv6 disabled: nothing to turn off */
  }
  return br;
}

/**
 * The host side in one batch: bridge up (promisc), the host veth enslaved with hairpin/isolation
 * and up. Returns the host veth and the bridge as `ip -j link show` reports them afterwards, and the bridge's
 * global addresses (so that the gateway step needs no process of its own when they are there already).
 */
export async function attachHostVeth(
  conf: BridgeConf,
  hostVeth: string,
): Promise<{ hostLink: Link; bridgeLink: Link; bridgeAddrs: AddrInfo[] }> {
  const slaveOpts = [...(conf.hairpinMode ? ['hairpin', 'on'] : []), ...(conf.portIsolation ? ['isolated', 'on'] : [])];
  const out = await ipBatch(
    [
      ['link', 'set', 'dev', conf.bridge, 'up', ...(conf.promiscMode ? ['promisc', 'on'] : [])],
      ['link', 'set', 'dev', hostVeth, 'master', conf.bridge],
      ...(slaveOpts.length ? [['link', 'set', 'dev', hostVeth, 'type', 'bridge_slave', ...slaveOpts]] : []),
      ['link', 'set', 'dev', hostVeth, 'up'],
      // `addr show` first: after a `link show` in the same batch, ip prints links without their addresses.
      ['addr', 'show', 'dev', conf.bridge],
      ['link', 'show', 'dev', hostVeth],
    ],
    undefined,
    { json: true },
  ).catch((err) => {
    throw fail(`failed to connect ${JSON.stringify(hostVeth)} to bridge ${conf.bridge}: ${why(err)}`);
  });
  const shown = jsonArrays<Link & { addr_info?: AddrInfo[] }>(out).map((a) => a[0]);
  const { addr_info: addrs = [], ...bridgeLink } = shown[0];
  return { hostLink: shown[1], bridgeLink, bridgeAddrs: addrs.filter((a) => a.scope === 'global') };
}

/**
 * Put the gateway CIDRs on `dev` (the bridge, or `<bridge>.<vlan>`). A different IPv4 address (or an
 * overlapping IPv6 one) is an error unless `forceAddress`, which replaces it. IPv6 gateways skip DAD
 * (no multi-second stall). `pinMac` is set as the device's MAC in the same batch. `known`: the device's global
 * addresses as just read (saves a process); a parallel ADD adding one since is handled like any EEXIST.
 */
export async function ensureGatewayAddrs(
  conf: BridgeConf,
  dev: string,
  gateways: string[],
  pinMac?: string,
  known?: AddrInfo[],
): Promise<void> {
  const present = (known ?? (await listAddrs(dev))).map((a) => canonical(addrCidr(a)));
  const cmds: string[][] = [];
  for (const gw of gateways.map(canonical)) {
    if (present.includes(gw)) continue;
    const want = parseCIDR(gw)!;
    for (const have of present) {
      const h = parseCIDR(have);
      if (!h || h.ip.family !== want.ip.family) continue;
      if (want.ip.family === 6 && !cidrContains(h, want.ip) && !cidrContains(want, h.ip)) continue;
      if (!conf.forceAddress) throw fail(`${JSON.stringify(dev)} already has an IP address different from ${gw}`);
      cmds.push(['addr', 'del', have, 'dev', dev]);
    }
    cmds.push(['addr', 'add', gw, 'dev', dev, ...(familyOfText(gw) === 6 ? ['nodad'] : [])]);
  }
  if (!cmds.length) return;
  // Pin the bridge MAC: otherwise it follows the lowest port MAC and changes as pods come and go.
  if (pinMac) cmds.push(['link', 'set', 'dev', dev, 'address', pinMac]);
  try {
    await ipBatch(cmds);
  } catch (err) {
    if (!isExists(err)) throw fail(`could not add IP address to ${JSON.stringify(dev)}: ${why(err)}`);
    // A parallel ADD put the same gateway there first: add whatever is still missing one by one.
    for (const cmd of cmds.filter((c) => c[1] === 'add'))
      await ipBatch([cmd]).catch((e) => {
        if (!isExists(e)) throw e;
      });
  }
}

/** Access VLAN (pvid, untagged) or trunk VLANs on the host port, with `bridge -batch` (one process). */
export async function setPortVlans(
  conf: Pick<BridgeConf, 'vlan' | 'trunk' | 'preserveDefaultVlan'>,
  hostVeth: string,
): Promise<void> {
  if (!conf.vlan && !conf.trunk.length) return;
  const cmds: string[][] = [];
  if (!conf.preserveDefaultVlan) cmds.push(['vlan', 'del', 'dev', hostVeth, 'vid', '1']);
  if (conf.vlan) cmds.push(['vlan', 'add', 'dev', hostVeth, 'vid', String(conf.vlan), 'pvid', 'untagged']);
  for (const range of vlanRanges(conf.trunk)) cmds.push(['vlan', 'add', 'dev', hostVeth, 'vid', range]);
  try {
    await run('bridge', ['-batch', '-'], {
      input: cmds.map((c) => c.map((t) => token(t)).join(' ')).join('\n') + '\n',
    });
  } catch (err) {
    throw fail(`failed to setup vlan tag on interface ${JSON.stringify(hostVeth)}: ${why(err)}`);
  }
}

/** `net.ipv4.ip_forward` / `net.ipv6.conf.all.forwarding` for the families that have gateways. */
export function enableForwarding(gateways: string[]): void {
  if (gateways.some((g) => familyOfText(g) === 4)) writeSysctl('net.ipv4.ip_forward', '1');
  if (gateways.some((g) => familyOfText(g) === 6)) writeSysctl('net.ipv6.conf.all.forwarding', '1');
}

function canonical(cidr: string): string {
  const c = parseCIDR(cidr);
  return c ? formatCIDR(c) : cidr;
}

export const why = failureReason;
