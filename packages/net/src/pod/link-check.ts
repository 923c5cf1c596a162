import type { CmdArgs, Result } from '@tscni/cni';
import { addrCidr, listAddrs } from '../host/addr';
import { familyOfText, parseCIDR, formatCIDR, networkOf } from '../host/ipaddr';
import { getLink, type Link } from '../host/link';
import { listRoutes, routeDst } from '../host/route';

/**
 * CHECK for a plugin that owns one pod interface: prevResult names CNI_IFNAME in CNI_NETNS, the link is
 * there (of `kind` when given, with the recorded MAC), and carries every address and route of prevResult.
 * Returns the link so the plugin can check its own details (mode, master).
 */
export async function checkPodInterface(args: CmdArgs, prev: Result, plugin: string, kind?: string): Promise<Link> {
  const fail = (msg: string) => new Error(`${plugin}: ${msg}`);
  const index = (prev.interfaces ?? []).findIndex((i) => i.name === args.ifName && i.sandbox === args.netns);
  if (index < 0) throw fail(`interface ${args.ifName} in netns ${args.netns} not found in prevResult`);
  const recorded = prev.interfaces![index];
  const link = await getLink(args.ifName, args.netns);
  if (!link) throw fail(`interface ${args.ifName} not found in ${args.netns}`);
  const actualKind = link.linkinfo?.info_kind;
  if (kind && actualKind !== kind) throw fail(`${args.ifName} is a ${actualKind ?? 'device'} link, not ${kind}`);
  if (recorded.mac && link.address && recorded.mac.toLowerCase() !== link.address.toLowerCase()) {
    throw fail(`${args.ifName} has MAC ${link.address}, prevResult says ${recorded.mac}`);
  }
  await checkAddresses(args, prev, index, fail);
  await checkRoutes(args, prev, fail);
  return link;
}

async function checkAddresses(args: CmdArgs, prev: Result, index: number, fail: (m: string) => Error): Promise<void> {
  const wanted = (prev.ips ?? []).filter((ip) => ip.interface === index);
  if (!wanted.length) return;
  const present = new Set((await listAddrs(args.ifName, args.netns, 'all')).map(addrCidr).map(canonicalCidr));
  for (const ip of wanted)
    if (!present.has(canonicalCidr(ip.address))) throw fail(`${args.ifName} lacks address ${ip.address}`);
}

async function checkRoutes(args: CmdArgs, prev: Result, fail: (m: string) => Error): Promise<void> {
  const routes = prev.routes ?? [];
  for (const family of [4, 6] as const) {
    const wanted = routes.filter((r) => familyOfText(r.dst) === family);
    if (!wanted.length) continue;
    const present = (await listRoutes(family, args.netns, 'all')).map((r) => ({
      dst: canonicalNet(routeDst(r, family)),
      gw: r.gateway,
    }));
    for (const r of wanted) {
      const dst = canonicalNet(r.dst);
      if (!present.some((p) => p.dst === dst && (!r.gw || p.gw === r.gw)))
        throw fail(`route ${r.dst}${r.gw ? ` via ${r.gw}` : ''} not found`);
    }
  }
}

function canonicalCidr(text: string): string {
  const c = parseCIDR(text);
  return c ? formatCIDR(c) : text;
}

function canonicalNet(text: string): string {
  const c = parseCIDR(text);
  return c ? formatCIDR(networkOf(c)) : text;
}
