import { resolve } from 'node:path';
import { z } from 'zod';
import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import { IpamSchema, loadConf } from './conf';
import { resultToLease } from './go-rpc';
import { DEFAULT_SOCKET_PATH, type WireCmdArgs } from './rpc';
import { callDaemon, isMissingMethod } from './rpc-client';

/** skel.CmdArgs for the daemon: it reads the config itself, like the reference daemon. */
const wireArgs = (args: CmdArgs): WireCmdArgs => ({
  ContainerID: args.containerID,
  // The daemon runs in another working directory.
  Netns: args.netns ? resolve(args.netns) : '',
  IfName: args.ifName,
  Args: args.args,
  Path: args.path.join(':'),
  StdinData: Buffer.from(args.stdinData),
});

/** ADD: the daemon acquires (or reuses) the lease and keeps it; the result carries its address and routes. */
async function add(args: CmdArgs): Promise<Result> {
  const conf = loadConf(args);
  const lease = resultToLease(await callDaemon(conf.socketPath, 'DHCP.Allocate', wireArgs(args)));
  if (!lease) throw new Error('error calling DHCP.Allocate: the daemon returned no address');
  const routes = lease.routes.map((r) => (conf.priority !== undefined ? { ...r, priority: conf.priority } : r));
  return {
    cniVersion: args.netConf.cniVersion,
    ips: [{ address: lease.address, ...(lease.gateway ? { gateway: lease.gateway } : {}) }],
    routes,
  };
}

/** DEL: the daemon stops maintaining the lease and sends DHCPRELEASE; an unknown lease is success. */
async function del(args: CmdArgs): Promise<void> {
  const conf = loadConf(args);
  await callDaemon(conf.socketPath, 'DHCP.Release', wireArgs(args));
}

/**
 * CHECK: the daemon still holds a bound, unexpired lease (with prevResult's address when there is one).
 * A reference daemon has no DHCP.Check: then Allocate, which is the reference plugin's CHECK.
 */
async function check(args: CmdArgs): Promise<void> {
  const conf = loadConf(args);
  try {
    await callDaemon(conf.socketPath, 'DHCP.Check', wireArgs(args));
  } catch (err) {
    if (!isMissingMethod(err)) throw err;
    await callDaemon(conf.socketPath, 'DHCP.Allocate', wireArgs(args));
  }
}

/** GC: the daemon releases this network's leases not in `cni.dev/valid-attachments` (a reference daemon has no GC). */
async function gc(args: CmdArgs): Promise<void> {
  const conf = args.parse(z.object({ ipam: IpamSchema }).passthrough());
  await callDaemon(conf.ipam.daemonSocketPath ?? DEFAULT_SOCKET_PATH, 'DHCP.GC', wireArgs(args)).catch((err) => {
    if (!isMissingMethod(err)) throw err;
  });
}

/** STATUS: ready when the daemon answers (a reference daemon answers DHCP.Ping with "can't find method"). */
async function status(args: CmdArgs): Promise<void> {
  const conf = args.parse(z.object({ ipam: IpamSchema }).passthrough());
  try {
    await callDaemon(conf.ipam.daemonSocketPath ?? DEFAULT_SOCKET_PATH, 'DHCP.Ping', wireArgs(args));
  } catch (err) {
    if (isMissingMethod(err)) return;
    throw new CniError(ErrorCode.PluginNotAvailable, (err as Error).message);
  }
}

export const dhcp: PluginFuncs = { add, del, check, gc, status };
