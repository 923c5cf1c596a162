import { goFold } from './go-json';

/**
 * A schema-free decode of the ordinary shape of a config, exactly as `goParse(schema, value)` decodes it: the first
 * decode of a call builds its schemas and runs goDecode and the schema code for the first time, ≈ 1–1.7 ms of CPU
 * per config under Bun (docs/performance.md, "Config decodes without the schema"). A plugin describes its schema's
 * ordinary fields once (`plainObject({...})`, in the schema's order); `plainDecode` gives what goParse gives — the
 * same fields in the same order, defaults applied, `""` of an `emptyAsUnset` field kept as an undefined key, undeclared
 * keys after them untouched — or undefined for anything else: a wrong type or value, a key Go would fold onto a field
 * (`Name`), a `__proto__` key, a null array element, a `never` field present. The caller then takes the schema's path,
 * which decodes it and words its error. Each description is held to its schema by a differential test.
 */
export type PlainKind =
  | { k: 'string'; ok?: (s: string) => boolean }
  | { k: 'boolean' }
  | { k: 'number'; int?: boolean; min?: number; max?: number }
  | { k: 'enum'; values: readonly string[] }
  | { k: 'unknown' }
  /** `z.record(z.unknown())`, or of `of` (a null value, Go's zero, is then the schema's business). */
  | { k: 'record'; of?: PlainKind }
  | { k: 'array'; of: PlainKind }
  | PlainObject
  /** A field left to the schema whenever it is set. */
  | { k: 'never' }
  /** Anything else a schema does to a non-null value (a transform, say): its output, or undefined for the schema. */
  | { k: 'custom'; decode: (v: unknown) => unknown };

export interface PlainField {
  kind: PlainKind;
  /** `.default(value)` (a primitive); without it the field is optional unless `required`. */
  value?: string | number | boolean;
  required?: boolean;
  /** `emptyAsUnset(…)`: `""` decodes to an undefined value under the key. */
  emptyAsUnset?: boolean;
}

export interface PlainObject {
  k: 'object';
  fields: Readonly<Record<string, PlainField>>;
  folded: ReadonlyMap<string, string>;
  /** zod's default object (not `.passthrough()`): undeclared keys are dropped. */
  strip?: boolean;
}

/** An object's description, `.passthrough()` unless `strip`; `fields` in the schema's order. */
export function plainObject(
  fields: Record<string, PlainField | PlainKind>,
  opts: { strip?: boolean } = {},
): PlainObject {
  const full: Record<string, PlainField> = {};
  for (const [name, f] of Object.entries(fields)) full[name] = 'kind' in f ? f : { kind: f };
  const folded = new Map(Object.keys(full).map((n) => [goFold(n), n]));
  return { k: 'object', fields: full, folded, ...(opts.strip ? { strip: true } : {}) };
}

export const plainString: PlainKind = { k: 'string' };
export const plainBoolean: PlainKind = { k: 'boolean' };
export const plainInt: PlainKind = { k: 'number', int: true };
export const plainStrings: PlainKind = { k: 'array', of: plainString };

const BAIL = Symbol('bail');
type Out = unknown | typeof BAIL;

/** `value` as its schema parses it, or undefined when the schema's path must decide. */
export function plainDecode<T>(description: PlainObject, value: unknown): T | undefined {
  const out = decodeKind(description, value);
  return out === BAIL ? undefined : (out as T);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function decodeKind(kind: PlainKind, v: unknown): Out {
  switch (kind.k) {
    case 'string':
      return typeof v === 'string' && (!kind.ok || kind.ok(v)) ? v : BAIL;
    case 'boolean':
      return typeof v === 'boolean' ? v : BAIL;
    case 'number':
      if (typeof v !== 'number' || Number.isNaN(v)) return BAIL;
      if (kind.int && !Number.isInteger(v)) return BAIL;
      if ((kind.min !== undefined && v < kind.min) || (kind.max !== undefined && v > kind.max)) return BAIL;
      return v;
    case 'enum':
      return typeof v === 'string' && kind.values.includes(v) ? v : BAIL;
    case 'unknown':
      return v;
    case 'record': {
      if (!isPlainObject(v)) return BAIL;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        if (key === '__proto__') return BAIL;
        const d = kind.of ? (v[key] === null ? BAIL : decodeKind(kind.of, v[key])) : v[key];
        if (d === BAIL) return BAIL;
        out[key] = d;
      }
      return out;
    }
    case 'array': {
      if (!Array.isArray(v)) return BAIL;
      const out: unknown[] = [];
      for (const e of v) {
        // Go's zero value for a null element is the schema's business.
        if (e === null) return BAIL;
        const d = decodeKind(kind.of, e);
        if (d === BAIL) return BAIL;
        out.push(d);
      }
      return out;
    }
    case 'object':
      return isPlainObject(v) ? decodeObject(kind, v) : BAIL;
    case 'never':
      return BAIL;
    case 'custom': {
      const d = kind.decode(v);
      return d === undefined ? BAIL : d;
    }
  }
}

function decodeObject(kind: PlainObject, v: Record<string, unknown>): Out {
  const declared: Record<string, unknown> = {};
  const rest: string[] = [];
  for (const key of Object.keys(v)) {
    if (key === '__proto__') return BAIL;
    const field = kind.folded.get(goFold(key));
    if (field === undefined) rest.push(key);
    else if (field !== key) return BAIL;
    // null unsets a declared field (Go's nil); JSON has no duplicate keys left after JSON.parse.
    else if (v[key] !== null) declared[key] = v[key];
  }
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(kind.fields)) {
    const f = kind.fields[name];
    const given = declared[name];
    if (given === undefined) {
      if (f.value !== undefined) {
        const d = decodeKind(f.kind, f.value);
        if (d === BAIL) return BAIL;
        out[name] = d;
      } else if (f.required) return BAIL;
      continue;
    }
    if (f.emptyAsUnset && given === '') {
      out[name] = undefined;
      continue;
    }
    const d = decodeKind(f.kind, given);
    if (d === BAIL) return BAIL;
    out[name] = d;
  }
  if (!kind.strip) for (const key of rest) out[key] = v[key];
  return out;
}
