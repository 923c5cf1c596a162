import { z } from 'zod';
import type { CmdArgs } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import { lazySchema } from '@tscni/cni/lazy-schema';
import { interfaceNameProblem } from '@tscni/cni/validate';
import { plainObject, plainString, type PlainKind } from '@tscni/cni/plain-decode';

/** Config fields the link plugins (macvlan, ipvlan, vlan, dummy, host-device) share. */
export const linkNameField = lazySchema(() =>
  z.string().superRefine((name, ctx) => {
    const problem = interfaceNameProblem(name);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${problem}: ${JSON.stringify(name)}` });
  }),
);

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
export const macField = lazySchema(() => z.string().regex(MAC_RE, 'invalid MAC address (want xx:xx:xx:xx:xx:xx)'));
export const mtuField = lazySchema(() => z.number().int().min(0).max(65535));
/** `ipam` may be `{}` (no IPAM: L2 only) or name a plugin type. */
export const ipamField = lazySchema(() => z.object({ type: z.string().optional() }).passthrough());

/** The fields above as plain-decode.ts describes them (a plugin's test holds each to its schema). */
export const plainLinkName: PlainKind = { k: 'string', ok: (name) => !interfaceNameProblem(name) };
export const plainMtu: PlainKind = { k: 'number', int: true, min: 0, max: 65535 };
export const plainIpam = (): PlainKind => plainObject({ type: plainString });

export const isMac = (s: string): boolean => MAC_RE.test(s);

/**
 * The MAC a pod interface should get, highest first: `runtimeConfig.mac` > CNI_ARGS `MAC` > the config's `mac`
 * (macvlan's order). Bad values are errors naming their source.
 */
export function requestedMac(args: CmdArgs, configured?: string): string | undefined {
  const fromRuntime = args.runtimeConfig.mac;
  if (fromRuntime !== undefined && fromRuntime !== '') {
    if (typeof fromRuntime !== 'string' || !isMac(fromRuntime))
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `invalid network config: runtimeConfig.mac: invalid MAC address ${JSON.stringify(fromRuntime)}`,
      );
    return fromRuntime.toLowerCase();
  }
  const fromArgs = args.cniArgs(['MAC']).MAC;
  if (fromArgs) {
    if (!isMac(fromArgs))
      throw new CniError(
        ErrorCode.InvalidEnvironmentVariables,
        `ARGS: MAC: invalid MAC address ${JSON.stringify(fromArgs)}`,
      );
    return fromArgs.toLowerCase();
  }
  return configured?.toLowerCase();
}
