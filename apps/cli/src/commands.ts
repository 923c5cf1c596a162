import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CniError, ErrorCode, versionAtLeast } from '@tscni/cni';
import { CNIConfig, loadConfList, type GCAttachment, type NetworkConfigList, type RuntimeConf } from '@tscni/libcni';
import { UsageError, type CliArgs } from './argv';
import { cnitoolContainerID } from './container-id';
import type { CliEnvironment } from './environment';

/** What a command hands back: lines for stdout and the exit code. */
export interface Output {
  stdout: string[];
  exitCode: number;
}

export interface Context {
  args: CliArgs;
  env: CliEnvironment;
  cni: CNIConfig;
  signal: AbortSignal;
}

const done = (...stdout: string[]): Output => ({ stdout, exitCode: 0 });

/** `<net> <netns>` for the attachment verbs: the list, and the runtime config cnitool would build. */
function attachment(ctx: Context, verb: string): { list: NetworkConfigList; rt: RuntimeConf } {
  const [net, netns] = ctx.args.positional;
  if (!net || !netns) throw new UsageError(`${verb} needs <net> <netns>`);
  const list = loadConfList(ctx.env.netConfPath, net);
  const netNS = resolve(netns);
  const rt: RuntimeConf = {
    containerID: cnitoolContainerID(netNS),
    netNS,
    ifName: ctx.env.ifName,
    ...(ctx.env.cniArgs.length ? { args: ctx.env.cniArgs } : {}),
    ...(ctx.env.capabilityArgs ? { capabilityArgs: ctx.env.capabilityArgs } : {}),
  };
  return { list, rt };
}

function requireNetns(path: string): void {
  if (!existsSync(path))
    throw new CniError(
      ErrorCode.InvalidEnvironmentVariables,
      `netns ${path} does not exist: create the namespace first (e.g. ip netns add NAME, then pass /var/run/netns/NAME)`,
    );
}

export async function add(ctx: Context): Promise<Output> {
  const { list, rt } = attachment(ctx, 'add');
  requireNetns(rt.netNS);
  const result = await ctx.cni.addNetworkList(list, rt, ctx.signal);
  return done(ctx.args.json ? JSON.stringify(result) : JSON.stringify(result, null, 4));
}

export async function check(ctx: Context): Promise<Output> {
  const { list, rt } = attachment(ctx, 'check');
  requireNetns(rt.netNS);
  await ctx.cni.checkNetworkList(list, rt, ctx.signal);
  return done(
    ...(ctx.args.json
      ? [JSON.stringify({ network: list.name, containerID: rt.containerID, ifName: rt.ifName, ok: true })]
      : []),
  );
}

export async function del(ctx: Context): Promise<Output> {
  const { list, rt } = attachment(ctx, 'del');
  await ctx.cni.delNetworkList(list, rt, ctx.signal);
  return done();
}

/**
 * cnitool's gc keeps nothing (every cached attachment of the network is deleted); `--keep` names the
 * attachments that are still in use, as a runtime would.
 */
export async function gc(ctx: Context): Promise<Output> {
  const [net] = ctx.args.positional;
  if (!net) throw new UsageError('gc needs <net>');
  const list = loadConfList(ctx.env.netConfPath, net);
  const validAttachments: GCAttachment[] = ctx.args.keep.map((k) => {
    const [containerID, ifname = ctx.env.ifName, extra] = k.split('/');
    if (!containerID || extra !== undefined)
      throw new UsageError(`--keep wants <containerID>[/<ifname>], got ${JSON.stringify(k)}`);
    return { containerID, ifname };
  });
  const before = (await ctx.cni.getCachedAttachments()).filter((a) => a.network === list.name);
  await ctx.cni.gcNetworkList(list, { validAttachments }, ctx.signal);
  const after = new Set(
    (await ctx.cni.getCachedAttachments())
      .filter((a) => a.network === list.name)
      .map((a) => `${a.containerID}/${a.ifName}`),
  );
  const deleted = before.map((a) => `${a.containerID}/${a.ifName}`).filter((a) => !after.has(a));
  if (ctx.args.json) return done(JSON.stringify({ network: list.name, deleted }));
  return done(...deleted.map((a) => `deleted stale attachment ${a}`));
}

export async function status(ctx: Context): Promise<Output> {
  const [net] = ctx.args.positional;
  if (!net) throw new UsageError('status needs <net>');
  const list = loadConfList(ctx.env.netConfPath, net);
  await ctx.cni.getStatusNetworkList(list, ctx.signal);
  const asked = versionAtLeast(list.cniVersion, '1.1.0');
  if (ctx.args.json)
    return done(JSON.stringify({ network: list.name, cniVersion: list.cniVersion, ready: true, pluginsAsked: asked }));
  return done(`${list.name}: ready${asked ? '' : ` (cniVersion ${list.cniVersion} has no STATUS: plugins not asked)`}`);
}
