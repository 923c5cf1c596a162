import { CniError, ErrorCode } from '@tscni/cni/errors';

/** Option names accepted in `request[].option` / `provide[].option` (dhcp-options(5) spelling); numbers work too. */
const OPTION_NAMES: Record<string, number> = {
  'subnet-mask': 1,
  routers: 3,
  'domain-name-servers': 6,
  'host-name': 12,
  'domain-name': 15,
  'static-routes': 33,
  'ntp-servers': 42,
  'dhcp-lease-time': 51,
  'dhcp-renewal-time': 58,
  'dhcp-rebinding-time': 59,
  'vendor-class-identifier': 60,
  'dhcp-client-identifier': 61,
  'user-class': 77,
  'classless-static-routes': 121,
};

/** Options requested unless a `request` entry says `skipDefault`. */
const DEFAULT_REQUEST = [OPTION_NAMES.routers, OPTION_NAMES['subnet-mask']];
/** Options the daemon writes itself: providing them would corrupt the exchange. */
const RESERVED = new Set([0, 50, 53, 54, 55, 255]);

export interface RequestOption {
  option: string;
  skipDefault?: boolean;
}
export interface ProvideOption {
  option: string;
  value?: string;
  fromArg?: string;
}

export function optionCode(option: string, field: string): number {
  const named = OPTION_NAMES[option];
  const code = named ?? (/^\d{1,3}$/.test(option) ? Number(option) : NaN);
  if (!(code >= 1 && code <= 254))
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `invalid network config: ${field}: can not parse option ${JSON.stringify(option)}`,
    );
  return code;
}

/** The parameter request list: the configured options plus routers and subnet-mask unless skipped. */
export function requestedOptions(request: readonly RequestOption[]): number[] {
  const codes = request.map((r, i) => optionCode(r.option, `ipam.request[${i}].option`));
  const skipDefault = request.some((r) => r.skipDefault);
  for (const code of skipDefault ? [] : DEFAULT_REQUEST) if (!codes.includes(code)) codes.push(code);
  return [...new Set(codes)];
}

/**
 * The options sent to the server: `value`, or the CNI_ARGS value named by `fromArg` (which wins when present).
 * `cniArgs` is the raw `K=V;…` string: any key may be referenced, as in the reference.
 */
export function providedOptions(provide: readonly ProvideOption[], cniArgs: string): [number, string][] {
  const args = new Map<string, string>();
  for (const pair of cniArgs.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0) args.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const out = new Map<number, string>();
  provide.forEach((p, i) => {
    const field = `ipam.provide[${i}]`;
    const code = optionCode(p.option, `${field}.option`);
    if (RESERVED.has(code))
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `invalid network config: ${field}.option: option ${code} is managed by the DHCP client`,
      );
    const value = p.fromArg !== undefined && args.has(p.fromArg) ? args.get(p.fromArg)! : p.value;
    if (value === undefined || value === '') return;
    if (Buffer.byteLength(value) > 255) {
      const from = p.fromArg !== undefined && args.has(p.fromArg) ? ` from CNI_ARGS ${JSON.stringify(p.fromArg)}` : '';
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `invalid network config: ${field}: value too long for option ${JSON.stringify(p.option)}${from}`,
      );
    }
    out.set(code, value);
  });
  return [...out];
}
