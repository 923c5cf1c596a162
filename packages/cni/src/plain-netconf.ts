import { goFold } from './go-json';
import type { NetConf } from './types';

type Raw = Record<string, unknown>;

/** NetConfSchema's fields in its order; `true` for the ones this decoder takes (dns is left to the schema). */
const FIELDS = [
  'cniVersion',
  'name',
  'type',
  'capabilities',
  'ipam',
  'dns',
  'args',
  'runtimeConfig',
  'prevResult',
  'ipMasq',
] as const;
type Field = (typeof FIELDS)[number];
const FOLDED = new Map<string, Field>(FIELDS.map((f) => [goFold(f), f]));

const isPlainObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The NetConf of a config exactly as `goParse(NetConfSchema, raw)` decodes it — the same fields in the same order,
 * `cniVersion` defaulted, undeclared keys after them with the same values — without building the schema: that costs
 * a plugin call ≈ 1 ms under Bun (docs/performance.md, "The NetConf decode without the schema"). It takes the configs
 * runtimes write: `cniVersion`, `name` and `type` strings, `ipMasq` a boolean, `ipam` an object whose `type` is a
 * string, `capabilities` an object of booleans, `args`, `runtimeConfig` and `prevResult` objects, any `null` (unset),
 * and any other key. Everything else — a wrong type, `dns`, a key Go would fold onto a field (`Name`), a `__proto__`
 * key — returns undefined, and the schema's path decodes it and words its error.
 * (test/plain-netconf.test.ts holds it to goParse.)
 */
export function plainNetConf(raw: Raw): NetConf | undefined {
  const declared: Partial<Record<Field, unknown>> = {};
  const rest: string[] = [];
  for (const key of Object.keys(raw)) {
    if (key === '__proto__') return undefined;
    const field = FOLDED.get(goFold(key));
    if (field === undefined) rest.push(key);
    else if (field !== key) return undefined;
    else if (raw[key] !== null) declared[field] = raw[key];
  }
  const out: Raw = {};
  for (const field of FIELDS) {
    const v = declared[field];
    if (v === undefined) {
      if (field === 'cniVersion') out.cniVersion = '0.1.0';
      continue;
    }
    const value = decodeField(field, v);
    if (value === undefined) return undefined;
    out[field] = value;
  }
  for (const key of rest) out[key] = raw[key];
  return out as NetConf;
}

/** One declared, non-null field as the schema parses it, or undefined when the schema should decide. */
function decodeField(field: Field, v: unknown): unknown {
  switch (field) {
    case 'cniVersion':
    case 'name':
    case 'type':
      return typeof v === 'string' ? v : undefined;
    case 'ipMasq':
      return typeof v === 'boolean' ? v : undefined;
    case 'ipam':
      return isPlainObject(v) ? ipamOf(v) : undefined;
    case 'capabilities':
      return isPlainObject(v) ? copyRecord(v, true) : undefined;
    case 'args':
    case 'runtimeConfig':
    case 'prevResult':
      return isPlainObject(v) ? copyRecord(v, false) : undefined;
    default:
      return undefined;
  }
}

/** IPAMConfigSchema: `type` (a string; null unsets it) first, every other key after it, values untouched. */
function ipamOf(v: Raw): Raw | undefined {
  let type: unknown;
  const rest: string[] = [];
  for (const key of Object.keys(v)) {
    if (key === '__proto__') return undefined;
    if (goFold(key) !== 'type') rest.push(key);
    else if (key !== 'type') return undefined;
    else type = v[key];
  }
  const out: Raw = {};
  if (type !== null && type !== undefined) {
    if (typeof type !== 'string') return undefined;
    out.type = type;
  }
  for (const key of rest) out[key] = v[key];
  return out;
}

/** A record's parse: a copy with the same keys in order; of booleans (`null` is Go's false), or of anything. */
function copyRecord(v: Raw, booleans: boolean): Raw | undefined {
  const out: Raw = {};
  for (const key of Object.keys(v)) {
    if (key === '__proto__') return undefined;
    let value = v[key];
    if (booleans) {
      if (value === null) value = false;
      else if (typeof value !== 'boolean') return undefined;
    }
    out[key] = value;
  }
  return out;
}
