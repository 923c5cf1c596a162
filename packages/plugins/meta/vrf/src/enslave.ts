import { CniError, ErrorCode } from '@tscni/cni/errors';
import type { AddrInfo } from '@tscni/net/host';
import { listAddrs } from '@tscni/net/host/addr';
import { ipBatch, ipJson } from '@tscni/net/host/ip';
import { getLink } from '@tscni/net/host/link';
import { listRoutes } from '@tscni/net/host/route';
import type { FamilyRoute } from '@tscni/net/pod';
import { routeCopyCommand } from '@tscni/net/pod/route-copy';

const fail = (msg: string) => new CniError(ErrorCode.Internal, `vrf: ${msg}`);
type Cmd = (string | number)[];

/**
 * Enslaving cycles the interface: the kernel moves its connected and local routes to the VRF table, but
 * IPv6 addresses and routes via gateways are lost. As the reference: note the global IPv6 addresses and the
 * global-scope main-table routes first, enslave, put back the addresses that went (waiting until their local
 * routes are in the VRF table), then the routes, into the VRF table. A failure puts the interface back.
 */
export async function enslave(netns: string, ifName: string, vrfName: string, table: number): Promise<void> {
  const link = await getLink(ifName, netns);
  if (!link) throw fail(`could not get link by name ${ifName}`);
  if (link.master) throw fail(`interface ${ifName} has already a master set: ${link.master}`);
  const [addrs, v4, v6] = await Promise.all([
    listAddrs(ifName, netns, 'global'),
    listRoutes(4, netns),
    listRoutes(6, netns),
  ]);
  const v6Addrs = addrs.filter((a) => a.family === 'inet6' && a.local);
  const routes: FamilyRoute[] = [
    ...v4.map((r) => ({ ...r, family: 4 as const })),
    ...v6.map((r) => ({ ...r, family: 6 as const })),
  ].filter((r) => r.dev === ifName && (r.scope ?? 'global') === 'global');
  try {
    await ipBatch([['link', 'set', 'dev', ifName, 'master', vrfName]], netns);
  } catch (err) {
    throw fail(`could not set vrf ${vrfName} as master of ${ifName}: ${(err as Error).message}`);
  }
  try {
    const kept = new Set((await listAddrs(ifName, netns, 'global')).map((a) => a.local));
    const lost = v6Addrs.filter((a) => !kept.has(a.local));
    if (lost.length) {
      await ipBatch(
        lost.map((a) => addrAdd(a, ifName)),
        netns,
      );
      await waitForLocalRoutes(netns, table, lost);
    }
    await ipBatch(
      routes.map((r) => routeCopyCommand('replace', r, ifName, table)),
      netns,
    );
  } catch (err) {
    await ipBatch(
      [
        ['link', 'set', 'dev', ifName, 'nomaster'],
        ...v6Addrs.map((a) => addrAdd(a, ifName)),
        ...routes.map((r) => routeCopyCommand('replace', r, ifName, 'main')),
      ],
      netns,
      { force: true },
    ).catch(() => {});
    throw err instanceof CniError
      ? err
      : fail(`could not move the routes of ${ifName} into VRF ${vrfName}: ${(err as Error).message}`);
  }
}

const addrAdd = (a: AddrInfo & { nodad?: boolean }, dev: string): Cmd => [
  'addr',
  'replace',
  `${a.local}/${a.prefixlen}`,
  'dev',
  dev,
  ...(a.nodad ? ['nodad'] : []),
];

/** A re-added IPv6 address is usable once its local route is in the VRF table (after DAD): back off up to ~5 s. */
async function waitForLocalRoutes(netns: string, table: number, addrs: AddrInfo[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const present = new Set(
      (await ipJson<{ dst: string; type?: string }[]>(['-6', 'route', 'show', 'table', String(table)], netns))
        .filter((r) => r.type === 'local')
        .map((r) => r.dst),
    );
    const missing = addrs.filter((a) => !present.has(a.local));
    if (!missing.length) return;
    if (attempt === 8)
      throw fail(`failed getting local/host addresses for ${missing.map((a) => a.local).join(', ')} in table ${table}`);
    await new Promise((r) => setTimeout(r, 10 * 2 ** attempt));
  }
}
