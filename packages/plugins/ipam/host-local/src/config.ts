import { isAbsolute, normalize } from '@tscni/cni/paths';
import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, Route } from '@tscni/cni';
import { CniError, ErrorCode, invalidConfig } from '@tscni/cni/errors';
import { RouteSchema, plainRoute } from '@tscni/cni/types';
import { plainObject, plainString, plainStrings, type PlainKind, type PlainObject } from '@tscni/cni/plain-decode';
import { requestedIPsShape } from '@tscni/cni/requested-ips';
import { validateNetworkName } from '@tscni/cni/validate';
import { versionAtLeast } from '@tscni/cni/version';
import type { IP } from '@tscni/net/host';
import { formatIP, parseCIDR, parseIP } from '@tscni/net/host/ipaddr';
import { canonicalRoutes } from '@tscni/net/pod/ipam-routes';
import { canonicalizeRangeSet, rangeSetFamily, rangeSetsOverlap, type RangeConf, type RangeSet } from './ip-range';

/** host-local's part of the network config (cni.md §3.3), as the reference reads it. */
const RangeSchema = lazySchema(() =>
  z
    .object({
      subnet: z.string(),
      rangeStart: z.string().optional(),
      rangeEnd: z.string().optional(),
      gateway: z.string().optional(),
    })
    .passthrough(),
);
const RangeSetsSchema = lazySchema(() => z.array(z.array(RangeSchema)));

const IPAMSchema = lazySchema(() =>
  z
    .object({
      type: z.string().optional(),
      subnet: z.string().optional(),
      rangeStart: z.string().optional(),
      rangeEnd: z.string().optional(),
      gateway: z.string().optional(),
      ranges: RangeSetsSchema.optional(),
      routes: z.array(RouteSchema).optional(),
      dataDir: z.string().optional(),
      resolvConf: z.string().optional(),
    })
    .passthrough(),
);

export const HostLocalNetConfSchema = lazySchema(() =>
  z
    .object({
      cniVersion: z.string(),
      name: z.string().optional(),
      ipam: IPAMSchema,
      ...requestedIPsShape({ ipRanges: RangeSetsSchema.optional() }),
    })
    .passthrough(),
);

let plain: PlainObject | undefined;
/** HostLocalNetConfSchema for plain-decode.ts (test/plain-config.test.ts holds it to the schema). */
export function plainHostLocalConf(): PlainObject {
  if (plain) return plain;
  const rangeSets: PlainKind = {
    k: 'array',
    of: {
      k: 'array',
      of: plainObject({
        subnet: { kind: plainString, required: true },
        rangeStart: plainString,
        rangeEnd: plainString,
        gateway: plainString,
      }),
    },
  };
  return (plain = plainObject({
    cniVersion: { kind: plainString, required: true },
    name: plainString,
    ipam: {
      kind: plainObject({
        type: plainString,
        subnet: plainString,
        rangeStart: plainString,
        rangeEnd: plainString,
        gateway: plainString,
        ranges: rangeSets,
        routes: { k: 'array', of: plainRoute() },
        dataDir: plainString,
        resolvConf: plainString,
      }),
      required: true,
    },
    runtimeConfig: plainObject({ ipRanges: rangeSets, ips: plainStrings }),
    args: plainObject({ cni: plainObject({ ips: plainStrings }) }),
  }));
}

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';

export interface HostLocalConfig {
  name: string;
  cniVersion: string;
  dataDir: string;
  /** Range sets in allocation order: runtimeConfig.ipRanges, then the legacy top-level range, then `ranges`. */
  rangeSets: RangeSet[];
  /** Requested addresses: CNI_ARGS IP ∪ args.cni.ips ∪ runtimeConfig.ips (prefixes ignored). */
  requestedIPs: IP[];
  routes: Route[];
  resolvConf?: string;
}

/** Decode and validate the config like the reference's LoadIPAMConfig; every problem is error 7 naming the field. */
export function loadConfig(args: CmdArgs, opts: { withRequests?: boolean } = {}): HostLocalConfig {
  if (args.netConf.ipam === undefined)
    throw new CniError(ErrorCode.InvalidNetworkConfig, "IPAM config missing 'ipam' key");
  const conf = args.parse(HostLocalNetConfSchema, plainHostLocalConf());
  const name = validateNetworkName(conf.name);
  const ipam = conf.ipam;

  const sources: { field: string; set: RangeConf[] }[] = [];
  (conf.runtimeConfig?.ipRanges ?? []).forEach((set, i) =>
    sources.push({ field: `runtimeConfig.ipRanges[${i}]`, set }),
  );
  if (ipam.subnet)
    sources.push({
      field: 'ipam.subnet',
      set: [{ subnet: ipam.subnet, rangeStart: ipam.rangeStart, rangeEnd: ipam.rangeEnd, gateway: ipam.gateway }],
    });
  (ipam.ranges ?? []).forEach((set, i) => sources.push({ field: `ipam.ranges[${i}]`, set }));
  if (sources.length === 0) throw invalidConfig('ipam.ranges', 'no IP ranges specified');

  const rangeSets = sources.map(({ field, set }, i) => {
    try {
      return canonicalizeRangeSet(set);
    } catch (err) {
      throw invalidConfig(field, `invalid range set ${i}: ${(err as Error).message}`);
    }
  });
  const perFamily = { 4: 0, 6: 0 };
  for (const set of rangeSets) perFamily[rangeSetFamily(set)]++;
  if ((perFamily[4] > 1 || perFamily[6] > 1) && !versionAtLeast(conf.cniVersion, '0.3.0')) {
    throw invalidConfig('cniVersion', `CNI version ${conf.cniVersion} does not support more than 1 address per family`);
  }
  for (let i = 0; i < rangeSets.length; i++) {
    for (let j = i + 1; j < rangeSets.length; j++) {
      if (rangeSetsOverlap(rangeSets[i], rangeSets[j]))
        throw invalidConfig(sources[j].field, `range set ${i} overlaps with ${j}`);
    }
  }

  return {
    name,
    cniVersion: conf.cniVersion,
    dataDir: validDataDir(ipam.dataDir),
    rangeSets,
    requestedIPs: opts.withRequests ? requestedIPs(args, conf.args?.cni?.ips, conf.runtimeConfig?.ips) : [],
    routes: canonicalRoutes(ipam.routes ?? [], 'ipam.routes'),
    resolvConf: ipam.resolvConf || undefined,
  };
}

/** An absolute, normalized path without `..`: leases can only land below it. */
function validDataDir(dir: string | undefined): string {
  if (dir === undefined || dir === '') return DEFAULT_DATA_DIR;
  if (!isAbsolute(dir) || /[\x00-\x1f]/.test(dir) || dir.split('/').includes('..')) {
    throw invalidConfig(
      'ipam.dataDir',
      `must be an absolute path without ".." or control characters, got ${JSON.stringify(dir)}`,
    );
  }
  return normalize(dir);
}

/** `ip` or `ip/prefix` (the prefix is ignored, like the reference does). */
function parseRequested(text: string): IP | undefined {
  const t = text.trim();
  return t.includes('/') ? parseCIDR(t)?.ip : parseIP(t);
}

function requestedIPs(args: CmdArgs, argsIPs: string[] = [], runtimeIPs: string[] = []): IP[] {
  const out = new Map<string, IP>();
  const envIP = args.cniArgs(['IP']).IP;
  if (envIP) {
    for (const item of envIP.split(',')) {
      const ip = parseRequested(item);
      if (!ip)
        throw new CniError(
          ErrorCode.InvalidEnvironmentVariables,
          `ARGS: error parsing value of pair "IP=${envIP}": invalid IP address ${item.trim()}`,
        );
      out.set(formatIP(ip), ip);
    }
  }
  for (const [field, list] of [
    ['args.cni.ips', argsIPs],
    ['runtimeConfig.ips', runtimeIPs],
  ] as const) {
    list.forEach((text, i) => {
      const ip = parseRequested(text);
      if (!ip) throw invalidConfig(`${field}[${i}]`, `cannot understand ip: ${JSON.stringify(text)}`);
      out.set(formatIP(ip), ip);
    });
  }
  return [...out.values()];
}
