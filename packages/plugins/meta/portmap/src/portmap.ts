import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import { RULES_LOCK_PATH } from '@tscni/net/netfilter/iptables-script';
import type { CIDR } from '@tscni/net/host';
import { commandFailure } from '@tscni/net/host/command-error';
import { withFileLock } from '@tscni/net/host/lock';
import { portMapperFor, type PortMapper } from './backend';
import { containerAddrs, parseConf, type PortMapConf } from './config';
import { enableLocalnetRouting, flushUdpConntrack } from './host';

/** The config and the backend it selects, chosen once per invocation. */
function load(args: CmdArgs, opts: { forDel?: boolean } = {}): { conf: PortMapConf; mapper: PortMapper } {
  const conf = parseConf(args, opts);
  return { conf, mapper: portMapperFor(conf) };
}

/** ADD: DNAT every mapping to the container's first IPv4 and IPv6 address; prevResult passes through. */
async function add(args: CmdArgs): Promise<Result> {
  const { conf, mapper } = load(args);
  const prev = args.requirePrevResult('portmap');
  if (conf.mappings.length === 0) return prev;
  const addrs = containerAddrs(prev, args.ifName);
  const containers = [addrs.v4, addrs.v6].filter((c): c is CIDR => c !== undefined);
  try {
    await withFileLock(RULES_LOCK_PATH, async () => {
      for (const c of containers) await mapper.forward(conf, c);
    });
    for (const c of containers) {
      await flushUdpConntrack(conf.mappings, c.ip.family);
      if (conf.snat && c.ip.family === 4) await enableLocalnetRouting(c);
    }
  } catch (err) {
    // A failed ADD leaves nothing behind: one family may already have been written.
    await withFileLock(RULES_LOCK_PATH, () => mapper.unforward(conf)).catch(() => undefined);
    throw ruleError('failed to set up port mappings', err);
  }
  return prev;
}

/** DEL: remove the attachment's rules from both families; no mappings means nothing to do. */
async function del(args: CmdArgs): Promise<void> {
  const { conf, mapper } = load(args, { forDel: true });
  if (conf.mappings.length === 0) return;
  await withFileLock(RULES_LOCK_PATH, () => mapper.unforward(conf)).catch((err) => {
    throw ruleError('failed to remove port mappings', err);
  });
}

/** CHECK: the rules of every family the container has an address in are present. */
async function check(args: CmdArgs): Promise<void> {
  const { conf, mapper } = load(args);
  const prev = args.prevResult();
  if (!prev) throw new CniError(ErrorCode.InvalidNetworkConfig, 'required prevResult missing');
  if (conf.mappings.length === 0) return;
  const addrs = containerAddrs(prev, args.ifName);
  for (const c of [addrs.v4, addrs.v6]) {
    if (c) await mapper.check(conf, c);
  }
}

/** GC: the rules of attachments of this network that the runtime no longer lists. */
async function gc(args: CmdArgs): Promise<void> {
  const { conf, mapper } = load(args);
  const valid = new Set(args.validAttachments().map((a) => a.containerID));
  await withFileLock(RULES_LOCK_PATH, () => mapper.gc(conf, valid));
}

/** A refusal the runtime acts on (a CniError) passes through; anything else is an internal failure in context. */
const ruleError = (what: string, err: unknown): Error => (err instanceof CniError ? err : commandFailure(what, err));

export const portmap: PluginFuncs = { add, del, check, gc, status: () => {} };
