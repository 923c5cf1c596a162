import { ipJson, isNotFound } from './ip';

export interface AddrInfo {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
  dynamic?: boolean;
  tentative?: boolean;
}
interface AddrLink {
  ifname: string;
  addr_info: AddrInfo[];
}

/** Addresses of one link as CIDRs (`10.0.0.2/24`), or [] when the link is gone. */
export async function listAddrs(dev: string, netns?: string, scope: 'global' | 'all' = 'global'): Promise<AddrInfo[]> {
  try {
    const links = await ipJson<AddrLink[]>(
      ['addr', 'show', 'dev', dev, ...(scope === 'global' ? ['scope', 'global'] : [])],
      netns,
    );
    return links[0]?.addr_info ?? [];
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

export const addrCidr = (a: AddrInfo): string => `${a.local}/${a.prefixlen}`;
