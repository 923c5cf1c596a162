import { CniError, ErrorCode, type CmdArgs, type PluginFuncs, type Result } from '@tscni/cni';
import { withFileLock, type CIDR } from '@tscni/net/host';
import { RULES_LOCK_PATH } from '@tscni/net/netfilter';
import { containerAddrs, parseConf, type PortMapConf } from './config';
import { enableLocalnetRouting, flushUdpConntrack } from './host';
import { checkPorts, forwardPorts, gcPorts, unforwardPorts } from './iptables-backend';
import { checkPortsNft, forwardPortsNft, gcPortsNft, unforwardPortsNft } from './nftables-backend';

/** ADD: DNAT every mapping to the container's first IPv4 and IPv6 address; prevResult passes through. */
async function add(args: CmdArgs): Promise<Result> {
  const conf = parseConf(args);
  const prev = args.requirePrevResult('portmap');
  if (conf.mappings.length === 0) return prev;
  const addrs = containerAddrs(prev, args.ifName);
  const containers = [addrs.v4, addrs.v6].filter((c): c is CIDR => c !== undefined);
  try {
    await withFileLock(RULES_LOCK_PATH, async () => {
      for (const c of containers) await (conf.backend === 'nftables' ? forwardPortsNft(conf, c) : forwardPorts(conf, c));
    });
    for (const c of containers) {
      await flushUdpConntrack(conf.mappings, c.ip.family);
      if (conf.snat && c.ip.family === 4) await enableLocalnetRouting(c);
    }
  } catch (err) {
    // A failed ADD leaves nothing behind: one family may already have been written.
    await withFileLock(RULES_LOCK_PATH, () => removeRules(conf)).catch(() => undefined);
    throw ruleError('failed to set up port mappings', err);
  }
  return prev;
}

/** DEL: remove the attachment's rules from both families; no mappings means nothing to do. */
async function del(args: CmdArgs): Promise<void> {
  const conf = parseConf(args, { forDel: true });
  if (conf.mappings.length === 0) return;
  await withFileLock(RULES_LOCK_PATH, () => removeRules(conf)).catch((err) => {
    throw ruleError('failed to remove port mappings', err);
  });
}

function removeRules(conf: PortMapConf): Promise<void> {
  return conf.backend === 'nftables' ? unforwardPortsNft(conf.containerID) : unforwardPorts(conf);
}

/** CHECK: the rules of every family the container has an address in are present. */
async function check(args: CmdArgs): Promise<void> {
  const conf = parseConf(args);
  const prev = args.prevResult();
  if (!prev) throw new CniError(ErrorCode.InvalidNetworkConfig, 'required prevResult missing');
  if (conf.mappings.length === 0) return;
  const addrs = containerAddrs(prev, args.ifName);
  for (const c of [addrs.v4, addrs.v6]) {
    if (c) await (conf.backend === 'nftables' ? checkPortsNft(conf, c) : checkPorts(conf, c));
  }
}

/** GC: the rules of attachments of this network that the runtime no longer lists. */
async function gc(args: CmdArgs): Promise<void> {
  const conf = parseConf(args);
  const valid = new Set(args.validAttachments().map((a) => a.containerID));
  await withFileLock(RULES_LOCK_PATH, () => (conf.backend === 'nftables' ? gcPortsNft(valid) : gcPorts(conf.netName, valid)));
}

function ruleError(what: string, err: unknown): CniError {
  if (err instanceof CniError) return err;
  const e = err as { stderr?: string; message?: string };
  return new CniError(ErrorCode.Internal, what, (e.stderr || e.message || String(err)).trim());
}

export const portmap: PluginFuncs = { add, del, check, gc, status: () => {} };
