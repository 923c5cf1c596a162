import { z, type ZodTypeAny } from 'zod';

/**
 * A schema built the first time it is used, not when its module loads: a plugin call evaluates every module it
 * imports, and building every schema of those modules up front cost a Bun call milliseconds (docs/performance.md).
 * The result is a `z.lazy` around the built schema, so it nests, parses and reports issues exactly like the schema
 * itself (same paths, same messages), and goDecode sees through it. `.schema` is the built schema (for `.extend`).
 */
export function lazySchema<T extends ZodTypeAny>(build: () => T): z.ZodLazy<T> {
  let built: T | undefined;
  return z.lazy(() => (built ??= build()));
}
