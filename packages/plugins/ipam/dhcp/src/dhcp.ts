import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { CniError, ErrorCode, type CmdArgs, type PluginFuncs, type Result } from '@tscni/cni';
import { providedOptions, requestedOptions } from './options';
import { DEFAULT_SOCKET_PATH, type LeaseRequest } from './rpc';
import { callDaemon } from './rpc-client';

/** `ipam` of a network that leases its addresses from a DHCP server through the `dhcp daemon`. */
const IpamSchema = z.object({
  type: z.literal('dhcp').optional(),
  daemonSocketPath: z.string().refine(isAbsolute, 'must be an absolute path').optional(),
  request: z.array(z.object({ option: z.string(), skipDefault: z.boolean().optional() }).passthrough()).default([]),
  provide: z.array(z.object({ option: z.string(), value: z.string().optional(), fromArg: z.string().optional() }).passthrough()).default([]),
  /** Metric of every route from the lease. */
  priority: z.number().int().nonnegative().optional(),
});
const NetConfSchema = z.object({ name: z.string().min(1, 'missing network name'), ipam: IpamSchema }).passthrough();

interface Conf {
  socketPath: string;
  priority?: number;
  lease: LeaseRequest;
}

function loadConf(args: CmdArgs): Conf {
  const conf = args.parse(NetConfSchema);
  const clientID = Buffer.from(`${args.containerID}/${conf.name}/${args.ifName}`).subarray(0, 254).toString();
  return {
    socketPath: conf.ipam.daemonSocketPath ?? DEFAULT_SOCKET_PATH,
    priority: conf.ipam.priority,
    lease: {
      clientID,
      containerID: args.containerID,
      network: conf.name,
      // The daemon runs in another working directory.
      netns: args.netns ? resolve(args.netns) : '',
      ifName: args.ifName,
      request: requestedOptions(conf.ipam.request),
      provide: providedOptions(conf.ipam.provide, args.args),
    },
  };
}

/** ADD: the daemon acquires (or reuses) the lease and keeps it; the result carries its address and routes. */
async function add(args: CmdArgs): Promise<Result> {
  const conf = loadConf(args);
  const lease = await callDaemon(conf.socketPath, 'DHCP.Allocate', conf.lease);
  if (!lease) throw new CniError(ErrorCode.Internal, 'error calling DHCP.Allocate: empty reply');
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
  await callDaemon(conf.socketPath, 'DHCP.Release', { clientID: conf.lease.clientID });
}

/** CHECK: the daemon still holds a bound, unexpired lease (with prevResult's address when there is one). */
async function check(args: CmdArgs): Promise<void> {
  const conf = loadConf(args);
  const address = args.prevResult()?.ips?.[0]?.address;
  await callDaemon(conf.socketPath, 'DHCP.Check', { clientID: conf.lease.clientID, ...(address ? { address } : {}) });
}

/** GC: the daemon releases this network's leases whose attachment is not in `cni.dev/valid-attachments`. */
async function gc(args: CmdArgs): Promise<void> {
  const conf = args.parse(NetConfSchema);
  await callDaemon(conf.ipam.daemonSocketPath ?? DEFAULT_SOCKET_PATH, 'DHCP.GC', { network: conf.name, valid: args.validAttachments() });
}

/** STATUS: ready when the daemon answers. */
async function status(args: CmdArgs): Promise<void> {
  const conf = args.parse(z.object({ ipam: IpamSchema }).passthrough());
  try {
    await callDaemon(conf.ipam.daemonSocketPath ?? DEFAULT_SOCKET_PATH, 'DHCP.Ping', {});
  } catch (err) {
    throw new CniError(ErrorCode.PluginNotAvailable, (err as Error).message);
  }
}

export const dhcp: PluginFuncs = { add, del, check, gc, status };
