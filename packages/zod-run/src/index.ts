/**
 * The zod 3 subset the plugins use, for run time only: every plugin bundle gets it in place of `zod` (an esbuild
 * alias in tools/bundle.mjs), so a plugin call evaluates a few hundred lines instead of zod. The sources keep
 * `import { z } from 'zod'` and zod's types; behaviour is zod 3.25's (same parsed values, issues, codes, paths and
 * messages, same `_def` fields for @tscni/cni's go-json), proven by test/equivalence.test.ts over every schema the
 * plugins build. A method or parameter it lacks throws when the schema is built.
 */
import { ZodIssueCode } from './issues';
import { array, object, record, union } from './containers';
import { boolean, enumOf, literal, number, string, unknown } from './primitives';
import { lazy, preprocess } from './schema';

export const z = {
  string,
  number,
  boolean,
  unknown,
  literal,
  enum: enumOf,
  object,
  array,
  record,
  union,
  lazy,
  preprocess,
  ZodIssueCode,
};
