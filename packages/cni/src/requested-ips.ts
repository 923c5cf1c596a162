import { z } from 'zod';

/**
 * The config keys through which a runtime asks IPAM for addresses (cni.md conventions): `args.cni.ips` and
 * the `ips` capability, `runtimeConfig.ips`; `runtimeConfig` takes the plugin's other keys too. Spread into a
 * plugin's config schema; built per call, so nothing is built at import time.
 */
export function requestedIPsShape<T extends z.ZodRawShape = {}>(runtimeConfig: T = {} as T) {
  const ips = z.array(z.string()).optional();
  return {
    runtimeConfig: z
      .object({ ...runtimeConfig, ips })
      .passthrough()
      .optional(),
    args: z
      .object({ cni: z.object({ ips }).passthrough().optional() })
      .passthrough()
      .optional(),
  };
}
