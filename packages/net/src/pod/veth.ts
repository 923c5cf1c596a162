import { getLink, type Link } from '../host/link';
import { ipBatch, isExists } from '../host/ip';
import { jsonArray } from '../host/ip-json';
import { homeNetnsPath } from '../host/home-netns';
import { randomVethName } from '../host/names';
import { run } from '../host/runner';

export interface VethRequest {
  /** The pod namespace the container end is created in. */
  netns: string;
  /** Name of the container end (CNI_IFNAME). */
  ifName: string;
  mtu?: number;
  /** MAC of the container end; the kernel picks one when unset. */
  mac?: string;
  /**
   * `ip` commands for the container side that run in the same batch right after the pair exists
   * (addresses, link up, routes): the whole container side is one process.
   */
  containerCommands?: readonly (readonly string[])[];
}

export interface VethPair {
  /** Name of the host end, which lives in this process's namespace. */
  hostVeth: string;
  /** The container end as `ip -j link show` reports it (mac, ifindex...). */
  container: Link;
}

export class VethNameTaken extends Error {
  constructor(readonly ifName: string) {
    super(`container veth name provided (${ifName}) already exists`);
  }
}

/**
 * Create a veth pair straight inside the pod namespace, with the peer ("host end", named
 * `veth<8 hex>`) placed in the namespace of this process, then run `containerCommands` in the same
 * `ip -batch`. A failing batch leaves nothing behind: the pair is deleted again.
 */
export async function createVeth(req: VethRequest): Promise<VethPair> {
  for (let attempt = 0; ; attempt++) {
    const hostVeth = randomVethName();
    const mtu = req.mtu ? ['mtu', String(req.mtu)] : [];
    const create = [
      'link',
      'add',
      req.ifName,
      ...mtu,
      ...(req.mac ? ['address', req.mac] : []),
      'type',
      'veth',
      'peer',
      'name',
      hostVeth,
      ...mtu,
      'netns',
      homeNetnsPath(),
    ];
    try {
      const out = await ipBatch(
        [create, ...(req.containerCommands ?? []), ['link', 'show', 'dev', req.ifName]],
        req.netns,
        { json: true },
      );
      return { hostVeth, container: jsonArray<Link>(out)[0] };
    } catch (err) {
      if (await removeHostVeth(hostVeth)) throw err; // the pair was made; a later command failed
      if (!isExists(err)) throw err;
      if (await getLink(req.ifName, req.netns)) throw new VethNameTaken(req.ifName);
      if (attempt >= 3) throw err; // the random host name kept colliding
    }
  }
}

/** Delete a veth by its host-end name (the peer goes with it); false when it did not exist. */
export async function removeHostVeth(hostVeth: string): Promise<boolean> {
  try {
    await run('ip', ['link', 'del', 'dev', hostVeth]);
    return true;
  } catch {
    return false;
  }
}
