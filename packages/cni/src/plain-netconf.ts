import type { NetConf } from './types';

const PLAIN_FIELDS = ['cniVersion', 'name', 'type'] as const;

/**
 * The NetConf of a config that holds nothing but `cniVersion`, `name` and `type`, each a string — a loopback
 * network's whole config — exactly as `goParse(NetConfSchema, raw)` decodes it (those fields in the schema's order,
 * `cniVersion` defaulted), without building the schema: that costs a plugin call ~1 ms under Bun, more than the
 * loopback plugin's own work. undefined for any other config, which takes the schema's path.
 * (test/plain-netconf.test.ts holds it to goParse.)
 */
export function plainNetConf(raw: Record<string, unknown>): NetConf | undefined {
  for (const key of Object.keys(raw))
    if (!(PLAIN_FIELDS as readonly string[]).includes(key) || typeof raw[key] !== 'string') return undefined;
  const out: NetConf = { cniVersion: (raw.cniVersion as string | undefined) ?? '0.1.0' };
  if (raw.name !== undefined) out.name = raw.name as string;
  if (raw.type !== undefined) out.type = raw.type as string;
  return out;
}
