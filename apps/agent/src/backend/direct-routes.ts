/**
 * Routes of peer subnets via the peers' public IPs on the external interface: the host-gw backend for
 * every peer, and vxlan's DirectRouting for peers on this node's L2 segment. Such a next hop only works
 * when `ip route get <public IP>` shows it directly connected through the external interface.
 */
import { cidrContains, ipBatch, ipJson, parseIP, type CIDR } from '@tscni/net/host';
import { canonical } from './vxlan-device';

/** Why `ip` cannot be a next hop on `ext`, or undefined when it can (on-link through `ext`, no gateway). */
export async function notOnLink(ip: string, ext: string): Promise<string | undefined> {
  let r: { dev?: string; gateway?: string }[];
  try {
    r = await ipJson([parseIP(ip)?.family === 6 ? '-6' : '-4', 'route', 'get', ip]);
  } catch (err) {
    return `${ip} is not reachable from this node at all (${(err as Error).message.split(': ').pop()?.trim()})`;
  }
  if (r[0]?.gateway) return `${ip} is reached through the gateway ${r[0].gateway}`;
  if (r[0]?.dev !== ext) return `${ip} is reached through ${r[0]?.dev ?? 'no interface'}, not ${ext}`;
  return undefined;
}

/**
 * Make the routes with a next hop on `ext` inside `network` exactly `want` (destination → next hop):
 * others of the network are removed, nothing outside it is touched. Returns one line per change.
 */
export async function syncDirectRoutes(
  family: 4 | 6,
  ext: string,
  network: CIDR,
  want: Map<string, string>,
): Promise<string[]> {
  const routes = await ipJson<{ dst: string; gateway?: string }[]>([`-${family}`, 'route', 'show', 'dev', ext]);
  const cmds: (string | number)[][] = [];
  const changes: string[] = [];
  const have = routes
    .filter((r) => r.gateway)
    .map((r) => ({ dst: canonical(r.dst, family === 4 ? 32 : 128), gateway: r.gateway! }));
  for (const r of have) {
    const ip = parseIP(r.dst.split('/')[0]);
    if (ip && ip.family === family && cidrContains(network, ip) && want.get(r.dst) !== r.gateway) {
      cmds.push(['route', 'del', r.dst, 'via', r.gateway, 'dev', ext]);
      changes.push(`route del ${r.dst} via ${r.gateway}`);
    }
  }
  for (const [dst, gw] of want) {
    if (!have.some((r) => r.dst === dst && r.gateway === gw)) {
      cmds.push(['route', 'replace', dst, 'via', gw, 'dev', ext]);
      changes.push(`route replace ${dst} via ${gw} dev ${ext}`);
    }
  }
  await ipBatch(cmds, undefined, { force: true });
  return changes;
}
