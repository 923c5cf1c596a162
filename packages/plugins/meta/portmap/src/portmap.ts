import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import type { CIDR } from '@tscni/net/host';
import { commandFailure } from '@tscni/net/host/command-error';
import { useIpInProcessOnDemand } from '@tscni/net/host/ip-on-demand';
import { sideBySide } from '@tscni/net/host/side-by-side';
import type { IPFamily } from '@tscni/net/netfilter';
import { portMapperFor, type PortMapper } from './backend';
import { containerAddrs, parseConf, type PortMapConf } from './config';
import { enableLocalnetRouting, flushUdpConntrack, localnetDevice } from './host';

// `ip` over rtnetlink in this process (under Bun), loaded by the first `ip` command: only ADD's route lookup runs one.
useIpInProcessOnDemand();

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
  // The route lookup only reads: it runs while the rules are written (it never rejects).
  const localnet = conf.snat && addrs.v4 ? localnetDevice(addrs.v4) : Promise.resolve(undefined);
  try {
    await mapper.forward(conf, containers);
    await sideBySide([
      ...containers.map((c) => () => flushUdpConntrack(conf.mappings, c.ip.family)),
      async () => enableLocalnetRouting(await localnet),
    ]);
  } catch (err) {
    await localnet;
    // A failed ADD leaves nothing behind: one family may already have been written.
    await mapper.unforward(conf).catch(() => undefined);
    throw ruleError('failed to set up port mappings', err);
  }
  return prev;
}

/**
 * DEL: remove the attachment's rules; no mappings means nothing to do. The cached prevResult says which families
 * ADD wrote; without one (or with one that says nothing), both are looked through.
 */
async function del(args: CmdArgs): Promise<void> {
  const { conf, mapper } = load(args, { forDel: true });
  if (conf.mappings.length === 0) return;
  await mapper.unforward(conf, familiesOf(args)).catch((err) => {
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
  await mapper.gc(conf, valid);
}

/** The families the prevResult gives the container an address in (where ADD wrote rules), or undefined: unknown. */
function familiesOf(args: CmdArgs): IPFamily[] | undefined {
  try {
    const prev = args.prevResult();
    if (!prev) return undefined;
    const { v4, v6 } = containerAddrs(prev, args.ifName);
    const families = [v4, v6].flatMap((c) => (c ? [c.ip.family] : []));
    return families.length ? families : undefined;
  } catch {
    return undefined; // DEL does not refuse a prevResult it cannot read: it looks everywhere instead
  }
}

/** A refusal the runtime acts on (a CniError) passes through; anything else is an internal failure in context. */
const ruleError = (what: string, err: unknown): Error => (err instanceof CniError ? err : commandFailure(what, err));

export const portmap: PluginFuncs = { add, del, check, gc, status: () => {} };
