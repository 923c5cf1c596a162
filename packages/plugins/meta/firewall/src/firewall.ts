import { type CmdArgs, type PluginFuncs, type Result } from '@tscni/cni';
import { RULES_LOCK_PATH, withFileLock, type CIDR, type IPFamily } from '@tscni/net';
import { bridgeOf, parseConf, resultAddrs, type FirewallConf } from './config';
import { addFirewalld, checkFirewalld, delFirewalld, withDefaultBackend } from './firewalld';
import { addFamily, checkFamily, delFamily } from './iptables-backend';
import { addNft, checkNft, delNft, gcNft } from './nftables-backend';

/** ADD: accept the attachment's addresses in FORWARD, apply the ingress policy; prevResult passes through. */
async function add(args: CmdArgs): Promise<Result> {
  const conf = await withDefaultBackend(parseConf(args));
  const prev = args.requirePrevResult('firewall');
  const addrs = resultAddrs(prev);
  const bridge = conf.ingressPolicy === 'open' ? undefined : bridgeOf(prev, conf.ingressPolicy);
  if (conf.backend === 'firewalld') return addFirewalld(conf, addrs, bridge).then(() => prev);
  await withFileLock(RULES_LOCK_PATH, async () => {
    if (conf.backend === 'nftables') return addNft(conf, addrs, bridge);
    const done: IPFamily[] = [];
    try {
      for (const [family, ips] of byFamily(addrs)) {
        await addFamily(conf, family, ips, bridge);
        done.push(family);
      }
    } catch (err) {
      // roll back the family already written (its accept rules; shared chains stay, as in the reference)
      for (const family of done) await delFamily(family, byFamily(addrs).get(family)!).catch(() => undefined);
      throw err;
    }
  });
  return prev;
}

/** DEL: without prevResult the iptables backend has nothing to go by (rules are per address), like the reference. */
async function del(args: CmdArgs): Promise<void> {
  const conf = await withDefaultBackend(parseConf(args));
  if (conf.backend === 'firewalld') return delFirewalld(conf, resultAddrs(args.prevResult()));
  await withFileLock(RULES_LOCK_PATH, async () => {
    if (conf.backend === 'nftables') return delNft(conf);
    for (const [family, ips] of byFamily(resultAddrs(args.prevResult()))) {
      // a family whose iptables is unusable has nothing of ours to remove
      await delFamily(family, ips).catch((err) => {
        if (family === 4) throw err;
      });
    }
  });
}

async function check(args: CmdArgs): Promise<void> {
  const conf = await withDefaultBackend(parseConf(args));
  const addrs = resultAddrs(args.requirePrevResult('firewall'));
  if (conf.backend === 'firewalld') return checkFirewalld(conf, addrs);
  if (conf.backend === 'nftables') return checkNft(conf, addrs);
  for (const [family, ips] of byFamily(addrs)) await checkFamily(conf, family, ips);
}

/**
 * GC: nftables rules name their attachment, so stale ones are removed. iptables rules carry only an address
 * (the reference's format); the runtime's GC DELs stale cached attachments with their prevResult first.
 */
async function gc(args: CmdArgs): Promise<void> {
  const conf: FirewallConf = parseConf(args);
  if (conf.backend !== 'nftables') return;
  const valid = new Set(args.validAttachments().map((a) => `${a.containerID}/${a.ifname}`));
  await withFileLock(RULES_LOCK_PATH, () => gcNft(conf.netName, valid));
}

function byFamily(addrs: CIDR[]): Map<IPFamily, CIDR[]> {
  const out = new Map<IPFamily, CIDR[]>();
  for (const a of addrs) out.set(a.ip.family, [...(out.get(a.ip.family) ?? []), a]);
  return out;
}

export const firewall: PluginFuncs = { add, del, check, gc, status: () => {} };
