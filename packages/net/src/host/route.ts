import { ipJson } from './ip';

export interface RouteInfo {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  prefsrc?: string;
  table?: string;
  flags?: string[];
}

/** Routes of one family in a table (default main), as `ip -j route show` prints them. */
export function listRoutes(family: 4 | 6, netns?: string, table?: string | number): Promise<RouteInfo[]> {
  return ipJson<RouteInfo[]>(
    [`-${family}`, 'route', 'show', ...(table !== undefined ? ['table', String(table)] : [])],
    netns,
  );
}

/** `ip -j route` prints `default` for 0.0.0.0/0 and bare addresses for host routes; give CIDRs back. */
export function routeDst(r: RouteInfo, family: 4 | 6): string {
  if (r.dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
  if (r.dst.includes('/')) return r.dst;
  return `${r.dst}/${family === 4 ? 32 : 128}`;
}

/** The interface of the default route (macvlan/ipvlan's default master). */
export async function defaultRouteInterface(netns?: string): Promise<string | undefined> {
  for (const family of [4, 6] as const) {
    const def = (await listRoutes(family, netns)).find((r) => r.dst === 'default' && r.dev);
    if (def) return def.dev;
  }
  return undefined;
}
