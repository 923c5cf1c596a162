import type { CmdArgs, Result } from '@tscni/cni';
import { CniError, ErrorCode, invalidConfig } from '@tscni/cni/errors';
import { emptyAsUnset, goParse } from '@tscni/cni/go-json';
import { validateNetworkName } from '@tscni/cni/validate';
import type { CIDR } from '@tscni/net/host';
import { formatIP, parseCIDR, parseIP } from '@tscni/net/host/ipaddr';
import type { IPFamily } from '@tscni/net/netfilter';
import { iptablesAvailable, nftAvailable } from '@tscni/net/netfilter/iptables';
import { restoreArg } from '@tscni/net/netfilter/iptables-script';
import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import {
  plainBoolean,
  plainDecode,
  plainObject,
  plainString,
  type PlainKind,
  type PlainObject,
} from '@tscni/cni/plain-decode';

const port = lazySchema(() =>
  z
    .number()
    .int()
    .min(1, 'must be a port number between 1 and 65535')
    .max(65535, 'must be a port number between 1 and 65535'),
);

export const PortMappingSchema = lazySchema(() =>
  z.object({
    hostPort: port,
    containerPort: port,
    protocol: z
      .string()
      .transform((p) => p.toLowerCase())
      .pipe(z.enum(['tcp', 'udp', 'sctp'], { errorMap: () => ({ message: 'must be tcp, udp or sctp' }) })),
    hostIP: z
      .string()
      .optional()
      .refine((ip) => !ip || parseIP(ip) !== undefined, 'must be an IP address'),
  }),
);
export type PortMapping = z.infer<typeof PortMappingSchema>;

const conditions = lazySchema(() => z.array(z.string().min(1, 'must not be empty')));

export const PortMapConfSchema = lazySchema(() =>
  z
    .object({
      name: z.string().optional(),
      snat: z.boolean().optional(),
      masqAll: z.boolean().optional(),
      markMasqBit: z.number().int().min(0, 'must be between 0 and 31').max(31, 'must be between 0 and 31').optional(),
      externalSetMarkChain: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,28}$/, 'must be an iptables chain name')
        .optional(),
      conditionsV4: conditions.optional(),
      conditionsV6: conditions.optional(),
      backend: emptyAsUnset(z.enum(['iptables', 'nftables'])),
      runtimeConfig: z
        .object({ portMappings: z.array(PortMappingSchema).optional() })
        .passthrough()
        .optional(),
    })
    .passthrough(),
);

const PROTOCOLS = ['tcp', 'udp', 'sctp'];
let plain: { add: PlainObject; del: PlainObject } | undefined;
/** PortMapConfSchema and PortMapDelSchema for plain-decode.ts (test/plain-config.test.ts holds them to the schemas). */
export function plainPortMapConfs(): { add: PlainObject; del: PlainObject } {
  if (plain) return plain;
  const port: PlainKind = { k: 'number', int: true, min: 1, max: 65535 };
  const mapping = plainObject(
    {
      hostPort: { kind: port, required: true },
      containerPort: { kind: port, required: true },
      protocol: {
        kind: {
          k: 'custom',
          decode: (v) => (typeof v === 'string' && PROTOCOLS.includes(v.toLowerCase()) ? v.toLowerCase() : undefined),
        },
        required: true,
      },
      hostIP: { k: 'string', ok: (ip) => !ip || parseIP(ip) !== undefined },
    },
    { strip: true },
  );
  const conditions: PlainKind = { k: 'array', of: { k: 'string', ok: (c) => c.length >= 1 } };
  const conf = (mappings: PlainKind) =>
    plainObject({
      name: plainString,
      snat: plainBoolean,
      masqAll: plainBoolean,
      markMasqBit: { k: 'number', int: true, min: 0, max: 31 },
      externalSetMarkChain: { k: 'string', ok: (c) => /^[A-Za-z0-9_.-]{1,28}$/.test(c) },
      conditionsV4: conditions,
      conditionsV6: conditions,
      backend: { kind: { k: 'enum', values: ['iptables', 'nftables'] }, emptyAsUnset: true },
      runtimeConfig: plainObject({ portMappings: { k: 'array', of: mappings } }),
    });
  return (plain = { add: conf(mapping), del: conf({ k: 'unknown' }) });
}

export type Backend = 'iptables' | 'nftables';

/** Everything a backend needs for one attachment. */
export interface PortMapConf {
  netName: string;
  containerID: string;
  backend: Backend;
  snat: boolean;
  masqAll: boolean;
  markMasqBit: number;
  externalSetMarkChain?: string;
  conditionsV4: string[];
  conditionsV6: string[];
  mappings: PortMapping[];
  /** Whether the mappings passed ADD's validation (DEL's own parse lets any through). */
  mappingsValid: boolean;
}

/** DEL finds the rules by container ID alone: the mappings only need to be there, as in the reference. */
export const PortMapDelSchema = lazySchema(() =>
  PortMapConfSchema.schema.extend({
    runtimeConfig: z
      .object({ portMappings: z.array(z.unknown()).optional() })
      .passthrough()
      .optional(),
  }),
);

/** Parse and validate the config (`forDel`: the mappings are not validated, DEL is best-effort). */
export function parseConf(args: CmdArgs, opts: { forDel?: boolean } = {}): PortMapConf {
  // DEL tries ADD's schema first: its mappings, when valid, are what a rule may be computed from; when not, DEL's
  // own parse (same errors as ever) lets them through unvalidated.
  const plainConfs = plainPortMapConfs();
  const plainStrict = opts.forDel
    ? plainDecode<z.infer<typeof PortMapConfSchema>>(plainConfs.add, args.netConf)
    : undefined;
  const strict = plainStrict
    ? { success: true as const, data: plainStrict }
    : opts.forDel
      ? goParse(PortMapConfSchema, args.netConf)
      : undefined;
  const raw = (
    strict?.success
      ? strict.data
      : opts.forDel
        ? args.parse(PortMapDelSchema, plainConfs.del)
        : args.parse(PortMapConfSchema, plainConfs.add)
  ) as z.infer<typeof PortMapConfSchema>;
  if (raw.markMasqBit !== undefined && raw.externalSetMarkChain !== undefined) {
    throw invalidConfig('externalSetMarkChain', 'cannot be used together with markMasqBit');
  }
  // Without `backend`, the conditions' syntax selects it; otherwise iptables unless only nft exists.
  const backend =
    raw.backend ??
    conditionsSyntax(raw.conditionsV4) ??
    conditionsSyntax(raw.conditionsV6) ??
    (!iptablesAvailable() && nftAvailable() ? 'nftables' : 'iptables');
  const wrong: string[] = [];
  if (backend === 'nftables' && raw.externalSetMarkChain !== undefined) wrong.push('externalSetMarkChain');
  for (const key of ['conditionsV4', 'conditionsV6'] as const) {
    const syntax = conditionsSyntax(raw[key]);
    if (syntax && syntax !== backend) wrong.push(key);
  }
  if (wrong.length)
    throw invalidConfig(
      wrong[0],
      `${backend} backend was requested but the configuration contains options for the other backend: ${wrong.join(', ')}`,
    );
  for (const key of ['conditionsV4', 'conditionsV6'] as const) {
    const bad = raw[key]?.find((c) => !safeCondition(backend, c));
    if (bad !== undefined) throw invalidConfig(key, `unsafe condition ${JSON.stringify(bad)}`);
  }
  return {
    netName: validateNetworkName(raw.name),
    containerID: args.containerID,
    backend,
    snat: raw.snat ?? true,
    masqAll: raw.masqAll ?? false,
    markMasqBit: raw.markMasqBit ?? 13,
    externalSetMarkChain: raw.externalSetMarkChain,
    conditionsV4: raw.conditionsV4 ?? [],
    conditionsV6: raw.conditionsV6 ?? [],
    mappings: raw.runtimeConfig?.portMappings ?? [],
    mappingsValid: !opts.forDel || !!strict?.success,
  };
}

/** A condition token that cannot break out of its rule: one restore argument, or nft text without separators or quotes. */
function safeCondition(backend: Backend, token: string): boolean {
  if (backend === 'nftables') return !/[;#"'\\\n\r]/.test(token);
  try {
    restoreArg(token);
    return true;
  } catch {
    return false;
  }
}

/** iptables conditions start with `-` (`-s`, `--dport`, `-m`) or `!`; anything else is nft syntax. */
function conditionsSyntax(conds: string[] | undefined): Backend | undefined {
  if (!conds?.length) return undefined;
  return conds[0].startsWith('-') || conds[0].startsWith('!') ? 'iptables' : 'nftables';
}

/** The container's addresses: the first IPv4 and IPv6 address on CNI_IFNAME (inside the sandbox). */
export function containerAddrs(result: Result, ifName: string): { v4?: CIDR; v6?: CIDR } {
  const out: { v4?: CIDR; v6?: CIDR } = {};
  for (const ip of result.ips ?? []) {
    if (ip.interface !== undefined) {
      const iface = result.interfaces?.[ip.interface];
      if (iface && (iface.name !== ifName || !iface.sandbox)) continue;
    }
    const cidr = parseCIDR(ip.address);
    if (!cidr)
      throw new CniError(
        ErrorCode.DecodingFailure,
        `invalid prevResult: ips: invalid address ${JSON.stringify(ip.address)}`,
      );
    if (cidr.ip.family === 4) out.v4 ??= cidr;
    else out.v6 ??= cidr;
  }
  return out;
}

/** `-d` of a mapping in this family: '' for none, null when the mapping's hostIP is of the other family. */
export function hostDestination(m: PortMapping, family: IPFamily): string | null {
  if (!m.hostIP) return '';
  if ((m.hostIP.includes(':') ? 6 : 4) !== family) return null;
  const ip = parseIP(m.hostIP);
  if (!ip) return null;
  if (ip.value === 0n) return '';
  return `${formatIP(ip)}/${family === 4 ? 32 : 128}`;
}
