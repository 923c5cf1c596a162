/**
 * Inputs for the equivalence test: for a schema, a value it accepts (built by walking the real zod's `_def`, each
 * leaf the first candidate the leaf schema accepts) and that value mutated at every position — each value of a pool
 * of wrong types, nulls, empty strings, out-of-range and fractional numbers; every key removed, re-cased the ways
 * Go's decoder folds (Key, KEY, ſ/K), doubled with another case, an extra key, a `__proto__` key. Values go through
 * JSON text, as a plugin's stdin does. Deterministic.
 */
type Schema = { _def: Record<string, unknown> & { typeName?: string }; safeParse(v: unknown): { success: boolean } };
type Json = unknown;

const STRINGS = [
  'x',
  '',
  'eth0',
  'cni0',
  'tcp',
  'TCP',
  'sctp',
  'iptables',
  'nftables',
  'firewalld',
  'open',
  'isolated',
  'l2',
  'bridge',
  'passthru',
  'dhcp',
  'host-local',
  '1.0.0',
  '0.3.1',
  '0.2.0',
  '10.1.0.0/16',
  '10.1.0.1',
  'fe80::1',
  'aa:bb:cc:dd:ee:ff',
  'AA-BB-CC-DD-EE-FF',
  'system_u:object_r:container_t:s0',
  '/run/x.sock',
  'relative/path',
  'a-very-long-interface-name',
  'bad/name',
  '4',
  '6',
  'true',
  'false',
];
const NUMBERS = [1, 0, -1, 1.5, 31, 32, 100, 1500, 4094, 4095, 65535, 65536, 4294967295, 4294967296, 1e21, -0];
const OTHERS: Json[] = [null, true, false, [], [null], ['x'], [1], {}, { a: 1 }, { type: 'x' }];
export const POOL: Json[] = [...STRINGS, ...NUMBERS, ...OTHERS];

const children = (d: Record<string, unknown>): Schema | undefined =>
  (d.innerType ?? d.schema ?? d.in ?? (typeof d.getter === 'function' ? d.getter() : undefined)) as Schema | undefined;

/** A value shaped like the schema, each leaf the first pool value that leaf accepts. */
export function sample(s: Schema, depth = 0): Json {
  if (depth > 16) return undefined;
  const d = s._def;
  let shaped: Json;
  switch (d.typeName) {
    case 'ZodObject': {
      const shape = (d.shape as () => Record<string, Schema>)();
      shaped = Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, sample(v, depth + 1)]));
      break;
    }
    case 'ZodArray':
      shaped = [sample(d.type as Schema, depth + 1)];
      break;
    case 'ZodRecord':
      shaped = { k: sample(d.valueType as Schema, depth + 1) };
      break;
    case 'ZodUnion':
      shaped = sample((d.options as Schema[])[(d.options as Schema[]).length - 1], depth + 1);
      break;
    default: {
      const inner = children(d);
      shaped = inner ? sample(inner, depth + 1) : undefined;
    }
  }
  for (const v of [shaped, ...POOL]) if (v !== undefined && s.safeParse(v).success) return v;
  return shaped;
}

const setIn = (root: Json, path: (string | number)[], f: (parent: Record<string, Json>, key: string) => void): Json => {
  const copy = structuredClone(root);
  let at = copy as Record<string, Json>;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string, Json>;
  f(at, String(path[path.length - 1]));
  return copy;
};

/** Object keys re-created in their order with one renamed (so the key's position is kept). */
const renamed = (o: Record<string, Json>, from: string, to: string, extra?: [string, Json]): Record<string, Json> => {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(o)) {
    define(out, k === from ? to : k, v);
    if (k === from && extra) define(out, extra[0], extra[1]);
  }
  return out;
};
const define = (o: Record<string, Json>, k: string, v: Json) =>
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });

const GO_FOLDS = (k: string): string[] => {
  const up = k[0].toUpperCase() + k.slice(1);
  const out = [up, k.toUpperCase()];
  if (/[sk]/.test(k)) out.push(k.replace(/s/g, '\u017f').replace(/k/g, '\u212a'));
  return out;
};

/** Every position of the value, mutated; each result as the JSON text would decode. */
export function mutations(base: Json): Json[] {
  const out: Json[] = [base];
  const visit = (v: Json, path: (string | number)[]) => {
    if (path.length) for (const p of POOL) out.push(setIn(base, path, (o, k) => (o[k] = p)));
    else out.push(...POOL);
    if (Array.isArray(v)) {
      v.forEach((e, i) => visit(e, [...path, i]));
      if (path.length) out.push(setIn(base, path, (o, k) => (o[k] = [...v, ...v])));
    } else if (v && typeof v === 'object') {
      const obj = v as Record<string, Json>;
      const replace = (f: (o: Record<string, Json>) => Json) =>
        out.push(path.length ? setIn(base, path, (o, k) => (o[k] = f(o[k] as Record<string, Json>))) : f(obj));
      replace((o) => ({ ...o, extra: 1, EXTRA: null }));
      replace((o) => {
        const c = { ...o };
        define(c, '__proto__', { polluted: true });
        return c;
      });
      for (const [k, e] of Object.entries(obj)) {
        replace((o) => {
          const c = { ...o };
          delete c[k];
          return c;
        });
        for (const f of GO_FOLDS(k)) {
          replace((o) => renamed(o, k, f));
          replace((o) => renamed(o, k, f, [k, POOL[0]]));
          replace((o) => renamed(o, k, k, [f, null]));
        }
        visit(e, [...path, k]);
      }
    }
  };
  visit(base, []);
  return out.map((v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v))));
}
