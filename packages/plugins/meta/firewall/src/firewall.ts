import { type CmdArgs, type PluginFuncs, type Result } from '@tscni/cni';
import { withFileLock, type CIDR } from '@tscni/net/host';
import { RULES_LOCK_PATH, type IPFamily } from '@tscni/net/netfilter';
import { bridgeOf, parseConf, resultAddrs, type FirewallConf } from './config';
import { addFirewalld, checkFirewalld, delFirewalld, withDefaultBackend } from './firewalld';
import { addFamily, attachmentTag, checkFamily, delFamily, gcFamily } from './iptables-backend';
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
      for (const family of done) await delFamily(conf, family, []).catch(() => undefined);
      throw err;
    }
  });
  return prev;
}

/**
 * DEL: the attachment's rules are found by their tag, so DEL works without prevResult (after a failed ADD,
 * where the reference leaves them behind). Without prevResult both families are searched.
 */
async function del(args: CmdArgs): Promise<void> {
  const conf = await withDefaultBackend(parseConf(args));
  const prev = args.prevResult();
  if (conf.backend === 'firewalld') return delFirewalld(conf, resultAddrs(prev));
  await withFileLock(RULES_LOCK_PATH, async () => {
    if (conf.backend === 'nftables') return delNft(conf);
    const addrs = byFamily(resultAddrs(prev));
    const families: IPFamily[] = prev ? [...addrs.keys()] : [4, 6];
    for (const family of families) {
      // a family whose iptables is unusable has nothing of ours to remove
      await delFamily(conf, family, addrs.get(family) ?? []).catch((err) => {
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

/** GC: both backends tag their rules with the attachment, so this network's stale ones are removed. */
async function gc(args: CmdArgs): Promise<void> {
  const conf: FirewallConf = parseConf(args);
  const attachments = args.validAttachments();
  if (conf.backend === 'nftables') {
    const valid = new Set(attachments.map((a) => `${a.containerID}/${a.ifname}`));
    return withFileLock(RULES_LOCK_PATH, () => gcNft(conf.netName, valid));
  }
  const valid = new Set(attachments.map((a) => attachmentTag({ netName: conf.netName, containerID: a.containerID, ifName: a.ifname })));
  await withFileLock(RULES_LOCK_PATH, async () => {
    for (const family of [4, 6] as const) {
      await gcFamily(conf.netName, family, valid).catch((err) => {
        if (family === 4) throw err;
      });
    }
  });
}

function byFamily(addrs: CIDR[]): Map<IPFamily, CIDR[]> {
  const out = new Map<IPFamily, CIDR[]>();
  for (const a of addrs) out.set(a.ip.family, [...(out.get(a.ip.family) ?? []), a]);
  return out;
}

export const firewall: PluginFuncs = { add, del, check, gc, status: () => {} };
