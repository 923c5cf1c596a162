import { type Family } from '../host/ipaddr';
import { routeDst, type RouteInfo } from '../host/route';

/** A route as `ip -j route show` lists it, with its family (the listing does not say). */
export type FamilyRoute = RouteInfo & { family: Family; type?: string };

/**
 * `ip route replace|del` arguments for a listed route in another table (sbr, vrf move routes between tables).
 * `ip -j` omits the defaults (proto boot, scope global), which `ip route` would not assume for every route.
 * Flags other than onlink are the kernel's own.
 */
export function routeCopyCommand(
  verb: 'replace' | 'del',
  r: FamilyRoute,
  dev: string,
  table: number | 'main',
): (string | number)[] {
  const cmd: (string | number)[] = ['route', verb];
  if (r.type && r.type !== 'unicast') cmd.push(r.type);
  cmd.push(routeDst(r, r.family));
  if (r.gateway) cmd.push('via', r.gateway);
  cmd.push('dev', dev, 'table', table);
  if (verb === 'replace') {
    cmd.push('proto', r.protocol ?? 'boot', 'scope', r.scope ?? 'global');
    if (r.prefsrc) cmd.push('src', r.prefsrc);
    if (r.flags?.includes('onlink')) cmd.push('onlink');
  }
  if (r.metric !== undefined) cmd.push('metric', r.metric);
  return cmd;
}
