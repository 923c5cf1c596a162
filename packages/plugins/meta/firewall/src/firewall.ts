import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { firewallBackendFor, type FirewallBackend } from './backend';
import { bridgeOf, parseConf, resultAddrs, type FirewallConf } from './config';

/** The config and the backend it selects. */
async function load(args: CmdArgs): Promise<{ conf: FirewallConf; backend: FirewallBackend }> {
  const conf = parseConf(args);
  return { conf, backend: await firewallBackendFor(conf) };
}

/** ADD: accept the attachment's addresses in FORWARD, apply the ingress policy; prevResult passes through. */
async function add(args: CmdArgs): Promise<Result> {
  const { conf, backend } = await load(args);
  const prev = args.requirePrevResult('firewall');
  const addrs = resultAddrs(prev);
  const bridge = conf.ingressPolicy === 'open' ? undefined : bridgeOf(prev, conf.ingressPolicy);
  await backend.add(conf, addrs, bridge);
  return prev;
}

/**
 * DEL: the attachment's rules are found by their tag, so DEL works without prevResult (after a failed ADD,
 * where the reference leaves them behind).
 */
async function del(args: CmdArgs): Promise<void> {
  const { conf, backend } = await load(args);
  const prev = args.prevResult();
  await backend.del(conf, prev ? resultAddrs(prev) : undefined);
}

async function check(args: CmdArgs): Promise<void> {
  const { conf, backend } = await load(args);
  await backend.check(conf, resultAddrs(args.requirePrevResult('firewall')));
}

/** GC: every backend tags its rules with the attachment, so this network's stale ones are removed. */
async function gc(args: CmdArgs): Promise<void> {
  const { conf, backend } = await load(args);
  await backend.gc(conf, args.validAttachments());
}

export const firewall: PluginFuncs = { add, del, check, gc, status: () => {} };
