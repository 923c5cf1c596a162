/**
 * For tests (no plugin imports it): a config mutated at every key of its top level and of each object one or two
 * levels down — each value of a small pool (wrong types, nulls, `""`, fractions, arrays, objects), the key removed,
 * re-cased the ways Go's decoder folds (Key, KEY, ſ for s, K for k), doubled with another case, a `__proto__`
 * sibling, an extra null key — and each of `fields` set to each pool value. Every result went through JSON text, as
 * a plugin's stdin does. What the schema-free decoders (plain-netconf.ts, plain-decode.ts) are held to their schemas
 * with.
 */
type Raw = Record<string, unknown>;

export const MUTATION_POOL: readonly unknown[] = [
  'x',
  '',
  '1.0.0',
  'eth0',
  '10.1.0.0/16',
  0,
  1,
  1.5,
  -1,
  4095,
  65536,
  null,
  true,
  false,
  [],
  ['x'],
  [null],
  [{}],
  {},
  { type: 'x' },
  { a: null },
];

const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function recased(key: string): string[] {
  const first = key.charAt(0).toUpperCase() + key.slice(1);
  const variants = [first, key.toUpperCase(), key.replace(/s/g, '\u017f'), key.replace(/k/g, '\u212a')];
  return [...new Set(variants)].filter((k) => k !== key);
}

const withProto = (o: Raw): Raw => {
  const text = JSON.stringify(o);
  return JSON.parse(`{"__proto__": {"x": 1}${text === '{}' ? '}' : `,${text.slice(1)}`}`) as Raw;
};

/** `obj` mutated at each of its keys; `wrap` puts a mutated copy back where it came from. */
function variants(obj: Raw, wrap: (inner: Raw) => Raw, out: Raw[]): void {
  for (const key of Object.keys(obj)) {
    for (const v of MUTATION_POOL) out.push(wrap({ ...clone(obj), [key]: v }));
    const removed = clone(obj);
    delete removed[key];
    out.push(wrap(removed));
    for (const k of recased(key)) {
      out.push(wrap(Object.fromEntries(Object.entries(clone(obj)).map(([k0, v]) => [k0 === key ? k : k0, v]))));
      out.push(wrap({ ...clone(obj), [k]: clone(obj[key]) }));
    }
  }
  out.push(wrap(withProto(clone(obj))));
  out.push(wrap({ ...clone(obj), unknownKey: null }));
}

/** Objects nested in `v` (inside arrays too), each with how to put a replacement back into a copy of `root`. */
function nested(root: Raw, depth: number): [Raw, (inner: Raw) => Raw][] {
  const found: [Raw, (inner: Raw) => Raw][] = [];
  const walk = (v: unknown, path: (string | number)[], d: number): void => {
    if (d > depth) return;
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((e, i) => [i, e])
      : isObject(v)
        ? Object.entries(v)
        : [];
    for (const [k, e] of entries) {
      const p = [...path, k];
      if (isObject(e))
        found.push([
          e,
          (inner) => {
            const copy = clone(root);
            let at: Record<string | number, unknown> = copy;
            for (const step of p.slice(0, -1)) at = at[step] as Record<string | number, unknown>;
            at[p[p.length - 1]] = inner;
            return copy;
          },
        ]);
      walk(e, p, Array.isArray(e) ? d : d + 1);
    }
  };
  walk(root, [], 1);
  return found;
}

export function configMutations(conf: Raw, fields: readonly string[] = [], depth = 2): Raw[] {
  const out: Raw[] = [];
  variants(conf, (o) => o, out);
  for (const [obj, wrap] of nested(conf, depth)) variants(obj, wrap, out);
  for (const field of fields) for (const v of MUTATION_POOL) out.push({ ...clone(conf), [field]: v });
  return out.map((c) => JSON.parse(JSON.stringify(c)) as Raw);
}
