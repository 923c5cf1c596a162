import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs } from '@tscni/cni';
import { providedOptions, requestedOptions } from './options';
import { DEFAULT_SOCKET_PATH, type LeaseRequest } from './rpc';

/** `ipam` of a network that leases its addresses from a DHCP server through the `dhcp daemon`. */
export const IpamSchema = lazySchema(() =>
  z.object({
    type: z.literal('dhcp').optional(),
    daemonSocketPath: z.string().refine(isAbsolute, 'must be an absolute path').optional(),
    request: z.array(z.object({ option: z.string(), skipDefault: z.boolean().optional() }).passthrough()).default([]),
    provide: z
      .array(
        z.object({ option: z.string(), value: z.string().optional(), fromArg: z.string().optional() }).passthrough(),
      )
      .default([]),
    /** Metric of every route from the lease. */
    priority: z.number().int().nonnegative().optional(),
  }),
);
export const NetConfSchema = lazySchema(() =>
  z.object({ name: z.string().min(1, 'missing network name'), ipam: IpamSchema }).passthrough(),
);

export interface Conf {
  socketPath: string;
  priority?: number;
  lease: LeaseRequest;
}

export const clientIDOf = (containerID: string, network: string, ifName: string): string =>
  Buffer.from(`${containerID}/${network}/${ifName}`).subarray(0, 254).toString();

/** The lease an invocation asks for, read the same way by the plugin and (from the forwarded CmdArgs) by the daemon. */
export function loadConf(args: CmdArgs): Conf {
  const conf = args.parse(NetConfSchema);
  return {
    socketPath: conf.ipam.daemonSocketPath ?? DEFAULT_SOCKET_PATH,
    priority: conf.ipam.priority,
    lease: {
      clientID: clientIDOf(args.containerID, conf.name, args.ifName),
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
