import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { goParse } from '../src/go-json';
import { lazySchema } from '../src/lazy-schema';

const eager = () =>
  z
    .object({
      name: z.string().optional(),
      mtu: z.number().int().min(0).max(65535).optional(),
      ranges: z.array(z.array(z.object({ subnet: z.string() }).passthrough())).optional(),
      mode: z.enum(['bridge', 'private']).default('bridge'),
    })
    .passthrough()
    .superRefine((c, ctx) => {
      if (c.name === 'bad') ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'bad name' });
    });

const INPUTS: unknown[] = [
  { name: 'n', mtu: 1500, ranges: [[{ subnet: '10.0.0.0/8' }]] },
  { NAME: 'n', Mtu: 9000, Ranges: [[{ Subnet: '10.0.0.0/8', extra: 1 }]], unknown: null },
  { mtu: '1500' },
  { mtu: 70000 },
  { ranges: [[{ subnet: 1 }]] },
  { ranges: [null, [null]] },
  { mode: 'vepa' },
  { name: 'bad' },
  { name: null, mode: null },
  [],
  'text',
];

/** What a caller sees of a parse: the data, or every issue (code, path, message, …). */
const seen = (r: z.SafeParseReturnType<unknown, unknown>) =>
  r.success ? { data: r.data } : { issues: JSON.parse(JSON.stringify(r.error.issues)) as unknown };

describe('lazySchema', () => {
  it('builds its schema on first use, once', () => {
    let built = 0;
    const s = lazySchema(() => (built++, eager()));
    expect(built).toBe(0);
    s.safeParse({});
    goParse(s, { name: 'x' });
    expect(built).toBe(1);
  });

  it('decodes and reports exactly like the schema it wraps, alone and nested', () => {
    const lazy = lazySchema(eager);
    const field = lazySchema(() => z.number().int().min(1, 'must be positive'));
    const outerEager = z.object({ conf: eager().optional(), n: z.number().int().min(1, 'must be positive') });
    const outerLazy = z.object({ conf: lazy.optional(), n: field });
    for (const input of INPUTS) {
      expect(seen(goParse(lazy, input))).toEqual(seen(goParse(eager(), input)));
      for (const n of [1, 0, 'x', undefined])
        expect(seen(goParse(outerLazy, { conf: input, n }))).toEqual(seen(goParse(outerEager, { conf: input, n })));
    }
  });

  it('extends through .schema', () => {
    const base = lazySchema(() => z.object({ a: z.string() }).passthrough());
    const extended = lazySchema(() => base.schema.extend({ b: z.number().default(1) }));
    expect(extended.parse({ a: 'x', c: true })).toEqual({ a: 'x', b: 1, c: true });
    expect(goParse(extended, { A: 1 }).error?.issues[0]).toMatchObject({
      path: ['a'],
      message: 'Expected string, received number',
    });
  });
});
