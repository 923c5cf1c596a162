import type { z } from 'zod';
import { CniError, ErrorCode } from './errors';
import { plainDecode } from './plain-decode';
import {
  LegacyResultSchema,
  ResultSchema,
  plainResult,
  type IPConfig,
  type LegacyResult,
  type Result,
  type Route,
} from './types';
import { goDecode, goField } from './go-json';
import { compareVersions, versionAtLeast } from './version';

const isLegacy = (v: string) => compareVersions(v, '0.3.0') < 0;
const familyOf = (cidr: string): '4' | '6' => (cidr.includes(':') ? '6' : '4');

/** Parse a result of any version (`fallbackVersion` when it has no cniVersion) into the current shape. */
export function toCurrentResult(raw: unknown, fallbackVersion = '1.1.0'): Result {
  const declared = goField(raw, 'cniVersion');
  const version = typeof declared === 'string' && declared ? declared : fallbackVersion;
  if (isLegacy(version))
    return fromLegacy(parseOrThrow(LegacyResultSchema, goDecode(LegacyResultSchema, raw ?? {})), version);
  const r =
    plainDecode<z.infer<typeof ResultSchema>>(plainResult(), raw ?? {}) ??
    parseOrThrow(ResultSchema, goDecode(ResultSchema, raw ?? {}));
  const ips = r.ips?.map(({ version: _v, ...ip }) => ip);
  return { ...r, cniVersion: version, ...(ips ? { ips } : {}) } as Result;
}

/** Convert a current-shape result to `version` (SPEC result rules, libcni's converters). */
export function convertResult(result: Result, version: string): Record<string, unknown> {
  if (isLegacy(version)) return toLegacy(result, version);
  if (versionAtLeast(version, '1.0.0')) {
    const ips = result.ips?.map(({ version: _v, ...ip }) => ip);
    return clean({ ...result, cniVersion: version, ips });
  }
  const interfaces = result.interfaces?.map(({ mtu: _m, socketPath: _s, pciID: _p, ...i }) => i);
  const ips = result.ips?.map((ip) => ({ ...ip, version: familyOf(ip.address) }));
  return clean({ ...result, cniVersion: version, interfaces, ips });
}

function fromLegacy(r: LegacyResult, version: string): Result {
  const ips: IPConfig[] = [];
  const routes: Route[] = [];
  for (const ip of [r.ip4, r.ip6]) {
    if (!ip) continue;
    ips.push(ip.gateway ? { address: ip.ip, gateway: ip.gateway } : { address: ip.ip });
    routes.push(...(ip.routes ?? []));
  }
  return clean({ cniVersion: version, ips, routes, dns: r.dns }) as Result;
}

function toLegacy(result: Result, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  for (const family of ['4', '6'] as const) {
    const ip = result.ips?.find((i) => familyOf(i.address) === family);
    if (!ip) continue;
    const routes = (result.routes ?? [])
      .filter((rt) => familyOf(rt.dst) === family)
      .map((rt) => (rt.gw ? { dst: rt.dst, gw: rt.gw } : { dst: rt.dst }));
    out[`ip${family}`] = {
      ip: ip.address,
      ...(ip.gateway ? { gateway: ip.gateway } : {}),
      ...(routes.length ? { routes } : {}),
    };
  }
  if (!out.ip4 && !out.ip6) throw new CniError(ErrorCode.Internal, 'cannot convert: no valid IP addresses');
  if (result.dns) out.dns = result.dns;
  return out;
}

function parseOrThrow<T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: { path: (string | number)[]; message: string }[] } };
  },
  v: unknown,
): T {
  const parsed = schema.safeParse(v);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CniError(
    ErrorCode.DecodingFailure,
    `failed to parse result: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
  );
}

/** Drop undefined keys and empty arrays the reference omits. */
function clean<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) delete o[k];
  }
  return o;
}
