import type { CmdArgs, IPConfig, PluginFuncs, Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import { formatIP, ipEqual, parseCIDR } from '@tscni/net/host/ipaddr';
import { formatRangeSet, rangeCapacity, rangeContains, rangeSetContains } from './ip-range';
import { readResolvConf } from './resolv-conf';
import { RangeSetAllocator } from './allocator';
import { loadConfig, type HostLocalConfig } from './config';
import { LeaseStore, leaseOwner, type Lease } from './store';

/** ADD: one address per range set, all under the network's lock; a failure releases what this ADD took. */
async function add(args: CmdArgs): Promise<Result> {
  const conf = loadConfig(args, { withRequests: true });
  const result: Result = { cniVersion: conf.cniVersion };
  if (conf.resolvConf) {
    try {
      result.dns = readResolvConf(conf.resolvConf);
    } catch (err) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `invalid network config: ipam.resolvConf: ${(err as Error).message}`,
      );
    }
  }
  const store = new LeaseStore(conf.dataDir, conf.name);
  result.ips = await store.locked(() => allocateAll(conf, store, args));
  if (conf.routes.length) result.routes = conf.routes;
  return result;
}

function allocateAll(conf: HostLocalConfig, store: LeaseStore, args: CmdArgs): IPConfig[] {
  const owner = leaseOwner(args.containerID, args.ifName);
  const leases = new Map(store.list().map((l) => [formatIP(l.ip), l]));
  const requested = new Map(conf.requestedIPs.map((ip) => [formatIP(ip), ip]));
  const ips: IPConfig[] = [];
  const taken: Lease[] = [];
  const rollback = () => taken.forEach((l) => store.release(l));
  conf.rangeSets.forEach((set, idx) => {
    const wanted = [...requested.entries()].find(([, ip]) => rangeSetContains(set, ip));
    if (wanted) requested.delete(wanted[0]);
    try {
      const { ipConfig, lease } = new RangeSetAllocator(set, idx, store, leases).get(
        args.containerID,
        owner,
        wanted?.[1],
      );
      taken.push(lease);
      ips.push(ipConfig);
    } catch (err) {
      rollback();
      throw new Error(`failed to allocate for range ${idx}: ${(err as Error).message}`);
    }
  });
  if (requested.size) {
    rollback();
    throw new Error(`failed to allocate all requested IPs: ${[...requested.keys()].join(' ')}`);
  }
  return ips;
}

/** DEL: drop every lease of (containerID, ifname) in the network; nothing to drop is success. */
async function del(args: CmdArgs): Promise<void> {
  const conf = loadConfig(args);
  const store = new LeaseStore(conf.dataDir, conf.name);
  if (!store.exists()) return;
  await store.locked(() => {
    const leases = store.list();
    let mine = leases.filter((l) => l.owner === leaseOwner(args.containerID, args.ifName));
    // Leases written by very old versions hold the container ID only.
    if (mine.length === 0) mine = leases.filter((l) => l.owner === args.containerID.trim());
    mine.forEach((l) => store.release(l));
  });
}

/**
 * CHECK: the attachment still holds at least one lease (the reference's test) and, beyond it, every
 * prevResult address inside one of our range sets is leased to this attachment.
 */
async function check(args: CmdArgs): Promise<void> {
  const conf = loadConfig(args);
  const store = new LeaseStore(conf.dataDir, conf.name);
  const owner = leaseOwner(args.containerID, args.ifName);
  const mine = store.exists()
    ? (await store.locked(() => store.list())).filter((l) => l.owner === owner || l.owner === args.containerID.trim())
    : [];
  if (mine.length === 0) throw new Error(`host-local: Failed to find address added by container ${args.containerID}`);
  for (const entry of args.prevResult()?.ips ?? []) {
    const cidr = parseCIDR(entry.address);
    if (!cidr || !conf.rangeSets.some((set) => rangeSetContains(set, cidr.ip))) continue;
    if (!mine.some((l) => ipEqual(l.ip, cidr.ip))) {
      throw new Error(
        `host-local: address ${formatIP(cidr.ip)} of prevResult is not reserved for container ${args.containerID} interface ${args.ifName}`,
      );
    }
  }
}

/** GC (beyond the reference): release every lease of this network whose attachment is not in cni.dev/valid-attachments. */
async function gc(args: CmdArgs): Promise<void> {
  const conf = loadConfig(args);
  const raw = args.netConf as Record<string, unknown>;
  if (raw['cni.dev/valid-attachments'] === undefined && raw['cni.dev/attachments'] === undefined) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      'invalid network config: cni.dev/valid-attachments: required for GC',
    );
  }
  const valid = args.validAttachments();
  const owners = new Set(valid.map((a) => leaseOwner(a.containerID, a.ifname)));
  const containers = new Set(valid.map((a) => a.containerID.trim()));
  const store = new LeaseStore(conf.dataDir, conf.name);
  if (!store.exists()) return;
  const errors = await store.locked(() => {
    const failed: string[] = [];
    for (const lease of store.list()) {
      if (owners.has(lease.owner) || containers.has(lease.owner)) continue;
      try {
        store.release(lease);
      } catch (err) {
        failed.push(`${lease.file}: ${(err as Error).message}`);
      }
    }
    return failed;
  });
  if (errors.length) throw new Error(`failed to release leases: ${errors.join('; ')}`);
}

/** STATUS (beyond the reference): 50 when some range set has no address left to hand out. */
async function status(args: CmdArgs): Promise<void> {
  const conf = loadConfig(args);
  const store = new LeaseStore(conf.dataDir, conf.name);
  const leases = store.exists() ? store.list() : [];
  conf.rangeSets.forEach((set, idx) => {
    const capacity = set.reduce((sum, r) => sum + rangeCapacity(r), 0n);
    const used = set.reduce(
      (sum, r) => sum + BigInt(leases.filter((l) => rangeContains(r, l.ip) && !ipEqual(l.ip, r.gateway)).length),
      0n,
    );
    if (used >= capacity) {
      throw new CniError(
        ErrorCode.PluginNotAvailable,
        `no IP addresses available in range set ${idx}: ${formatRangeSet(set)}`,
      );
    }
  });
}

export const hostLocal: PluginFuncs = { add, del, check, gc, status };
