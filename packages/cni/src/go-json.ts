import { z, type ZodTypeAny } from 'zod';

/**
 * Decode JSON the way the reference plugins do (Go's encoding/json into their config structs), using
 * the zod schema as the struct: each object key is matched to a schema field exactly, else
 * case-insensitively (Go's simple folding, so `Subnet`, `SUBNET` and `ſubnet` all land in `subnet`);
 * keys are applied in document order, so of two keys naming one field the last wins. `null` makes
 * a field unset (so `.optional()`/`.default()` apply), as Go does for its pointers, slices and maps;
 * a `null` array element becomes the element's zero value. Undeclared keys (nulls included) pass through. Unknown keys pass through untouched. Types are not coerced: the schema's parse after
 * this step reports type errors with the schema's own field names.
 *
 * No work happens at import time; a schema's key index is built the first time it is used.
 */
export function goDecode(schema: ZodTypeAny, value: unknown): unknown {
  return decode([schema], value);
}

/** The schema parse after {@link goDecode}: what every config, result and capability value goes through. */
export function goParse<T extends ZodTypeAny>(schema: T, value: unknown): z.SafeParseReturnType<unknown, z.output<T>> {
  return schema.safeParse(goDecode(schema, value));
}

/**
 * An optional enum-like string where `""` means "not set" (the reference tests `== ""` and applies its
 * default): firewall `backend`, macvlan/ipvlan `mode`, ...
 */
export function emptyAsUnset<T extends ZodTypeAny>(schema: T) {
  return z.preprocess((v) => (v === '' ? undefined : v), schema.optional());
}

type Def = { typeName?: string } & Record<string, unknown>;
const defOf = (s: ZodTypeAny): Def => (s as unknown as { _def: Def })._def;

/** The concrete schemas behind wrappers (optional, default, effects, unions, …). */
function concrete(schemas: ZodTypeAny[]): ZodTypeAny[] {
  const out: ZodTypeAny[] = [];
  const visit = (s: ZodTypeAny, depth: number): void => {
    if (depth > 32) return;
    const d = defOf(s);
    switch (d.typeName) {
      case 'ZodOptional':
      case 'ZodNullable':
      case 'ZodDefault':
      case 'ZodCatch':
      case 'ZodReadonly':
        return visit(d.innerType as ZodTypeAny, depth + 1);
      case 'ZodBranded':
        return visit(d.type as ZodTypeAny, depth + 1);
      case 'ZodEffects':
        return visit(d.schema as ZodTypeAny, depth + 1);
      case 'ZodPipeline':
        return visit(d.in as ZodTypeAny, depth + 1);
      case 'ZodLazy':
        return visit((d.getter as () => ZodTypeAny)(), depth + 1);
      case 'ZodUnion':
      case 'ZodDiscriminatedUnion':
        for (const o of d.options as Iterable<ZodTypeAny>) visit(o, depth + 1);
        return;
      case 'ZodIntersection':
        visit(d.left as ZodTypeAny, depth + 1);
        visit(d.right as ZodTypeAny, depth + 1);
        return;
      default:
        out.push(s);
    }
  };
  for (const s of schemas) visit(s, 0);
  return out;
}

/** Go's case folding restricted to what can equal an ASCII field name: ASCII letters, K (U+212A), ſ (U+017F). */
export function goFold(key: string): string {
  return key.replace(/[A-Z\u212a\u017f]/g, (c) => (c === '\u212a' ? 'k' : c === '\u017f' ? 's' : c.toLowerCase()));
}

interface ObjectIndex {
  fields: Map<string, ZodTypeAny>;
  folded: Map<string, string>;
}
const indexCache = new WeakMap<object, ObjectIndex>();

function objectIndex(obj: ZodTypeAny): ObjectIndex {
  let idx = indexCache.get(obj);
  if (idx) return idx;
  const shape = (defOf(obj).shape as () => Record<string, ZodTypeAny>)();
  idx = { fields: new Map(Object.entries(shape)), folded: new Map() };
  for (const name of idx.fields.keys()) if (!idx.folded.has(goFold(name))) idx.folded.set(goFold(name), name);
  indexCache.set(obj, idx);
  return idx;
}

function decode(schemas: ZodTypeAny[], value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const kinds = concrete(schemas);
  if (Array.isArray(value)) return decodeArray(kinds, value);
  return decodeObject(kinds, value as Record<string, unknown>);
}

function decodeArray(kinds: ZodTypeAny[], value: unknown[]): unknown[] {
  const elems: ZodTypeAny[] = [];
  const tuples: ZodTypeAny[] = [];
  for (const k of kinds) {
    const d = defOf(k);
    if (d.typeName === 'ZodArray') elems.push(d.type as ZodTypeAny);
    else if (d.typeName === 'ZodSet') elems.push(d.valueType as ZodTypeAny);
    else if (d.typeName === 'ZodTuple') tuples.push(k);
  }
  if (!elems.length && !tuples.length) return value;
  return value.map((v, i) => {
    const at = [...elems];
    for (const t of tuples) {
      const d = defOf(t);
      const item = (d.items as ZodTypeAny[])[i] ?? (d.rest as ZodTypeAny | null);
      if (item) at.push(item);
    }
    return v === null ? zeroOf(at) : decode(at, v);
  });
}

function decodeObject(kinds: ZodTypeAny[], value: Record<string, unknown>): Record<string, unknown> {
  const objects: ObjectIndex[] = [];
  const rest: ZodTypeAny[] = [];
  for (const k of kinds) {
    const d = defOf(k);
    if (d.typeName === 'ZodObject') {
      objects.push(objectIndex(k));
      const catchall = d.catchall as ZodTypeAny | undefined;
      if (catchall && defOf(catchall).typeName !== 'ZodNever') rest.push(catchall);
    } else if (d.typeName === 'ZodRecord') rest.push(d.valueType as ZodTypeAny);
  }
  if (!objects.length && !rest.length) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const f = goFold(key);
    const field = objects.some((o) => o.fields.has(key))
      ? key
      : objects.map((o) => o.folded.get(f)).find((n) => n !== undefined);
    const name = field ?? key;
    const fieldSchemas =
      field !== undefined
        ? objects.flatMap((o) => (o.fields.has(field) ? [o.fields.get(field) as ZodTypeAny] : []))
        : rest;
    // Go sets a slice, map or pointer to nil for null: a declared field ends up unset whatever came
    // before. An undeclared key keeps its null, so a later decode with a wider schema still sees it.
    if (v === null && field !== undefined) delete out[name];
    else if (v === null) set(out, name, fieldSchemas.length ? zeroOf(fieldSchemas) : null);
    else set(out, name, fieldSchemas.length ? decode(fieldSchemas, v) : v);
  }
  return out;
}

/** Assign without ever touching the prototype (a JSON key may be `__proto__`). */
function set(o: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
  else o[key] = v;
}

/** Go's zero value for a `null` array element of this type (null again where there is no sensible one). */
function zeroOf(schemas: ZodTypeAny[]): unknown {
  const k = concrete(schemas)[0];
  switch (k && defOf(k).typeName) {
    case 'ZodString':
      return '';
    case 'ZodNumber':
      return 0;
    case 'ZodBoolean':
      return false;
    case 'ZodObject':
    case 'ZodRecord':
      return decode(schemas, {});
    case 'ZodArray':
      return [];
    default:
      return null;
  }
}

/** One field of an object decoded without a schema (Go semantics: the last key folding to `name` wins; null is unset). */
export function goField(obj: unknown, name: string): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const f = goFold(name);
  let found: unknown;
  for (const [key, v] of Object.entries(obj)) if (key === name || goFold(key) === f) found = v ?? undefined;
  return found;
}

/** A read-only view of a schema-less object whose property reads follow {@link goField}. */
export function goView(obj: Record<string, unknown>): Record<string, unknown> {
  return new Proxy(obj, { get: (target, prop) => (typeof prop === 'string' ? goField(target, prop) : undefined) });
}

/**
 * JSON.parse with one wording under Node and Bun: their engines word a syntax error differently (V8 "Unexpected end
 * of JSON input", JavaScriptCore "JSON Parse error: Unexpected EOF"), and a plugin's error must be the same bytes
 * whether the harness calls it in-process (Node) or execs it (Bun). A truncated document gets Go's words.
 */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const truncated = text.trim() === '' || /end of JSON input|Unexpected EOF/i.test((e as Error).message);
    throw new SyntaxError(truncated ? 'unexpected end of JSON input' : 'invalid JSON');
  }
}
