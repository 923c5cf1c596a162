/**
 * Issues as zod 3.25 makes them (zod/src/v3/ZodError.ts, helpers/parseUtil.ts, locales/en.ts): the codes, the
 * default English messages, how a schema's own error map and an issue's explicit message take precedence, and
 * ZodError. Only the codes the subset's schemas produce have a message here.
 */

export const ZodIssueCode = {
  invalid_type: 'invalid_type',
  invalid_literal: 'invalid_literal',
  custom: 'custom',
  invalid_union: 'invalid_union',
  invalid_union_discriminator: 'invalid_union_discriminator',
  invalid_enum_value: 'invalid_enum_value',
  unrecognized_keys: 'unrecognized_keys',
  invalid_arguments: 'invalid_arguments',
  invalid_return_type: 'invalid_return_type',
  invalid_date: 'invalid_date',
  invalid_string: 'invalid_string',
  too_small: 'too_small',
  too_big: 'too_big',
  invalid_intersection_types: 'invalid_intersection_types',
  not_multiple_of: 'not_multiple_of',
  not_finite: 'not_finite',
} as const;

export type Path = (string | number)[];
/** What a schema (or a refinement's `ctx.addIssue`) reports; `path` is relative to where it is added. */
export type IssueData = { code: string; message?: string; path?: Path; fatal?: boolean } & Record<string, unknown>;
export type Issue = { code: string; path: Path; message: string } & Record<string, unknown>;
export type ErrorMap = (issue: Issue, ctx: { data: unknown; defaultError: string }) => { message: string };

/** The issues of one parse; a union gives each option its own. */
export interface Common {
  issues: Issue[];
}

export class ZodError extends Error {
  issues: Issue[];
  constructor(issues: Issue[]) {
    super();
    this.name = 'ZodError';
    this.issues = issues;
  }
  get errors(): Issue[] {
    return this.issues;
  }
  override toString(): string {
    return this.message;
  }
}
// zod's message is a getter over the issues (an accessor TypeScript will not let a class declare over Error's field)
Object.defineProperty(ZodError.prototype, 'message', {
  get(this: ZodError) {
    return JSON.stringify(this.issues, jsonStringifyReplacer, 2);
  },
});

const jsonStringifyReplacer = (_: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

export const joinValues = (values: readonly unknown[], separator = ' | '): string =>
  values.map((v) => (typeof v === 'string' ? `'${v}'` : v)).join(separator);

const comparison = (exact: unknown, inclusive: unknown, words: [string, string, string]) =>
  exact ? words[0] : inclusive ? words[1] : words[2];

/** zod's locales/en.ts for the codes the subset produces. */
function defaultMessage(issue: Issue): string {
  switch (issue.code) {
    case ZodIssueCode.invalid_type:
      return issue.received === 'undefined' ? 'Required' : `Expected ${issue.expected}, received ${issue.received}`;
    case ZodIssueCode.invalid_literal:
      return `Invalid literal value, expected ${JSON.stringify(issue.expected, jsonStringifyReplacer)}`;
    case ZodIssueCode.invalid_enum_value:
      return `Invalid enum value. Expected ${joinValues(issue.options as unknown[])}, received '${issue.received}'`;
    case ZodIssueCode.invalid_string:
      return issue.validation !== 'regex' ? `Invalid ${issue.validation}` : 'Invalid';
    case ZodIssueCode.too_small:
      if (issue.type === 'string')
        return `String must contain ${comparison(issue.exact, issue.inclusive, ['exactly', 'at least', 'over'])} ${issue.minimum} character(s)`;
      if (issue.type === 'number')
        return `Number must be ${comparison(issue.exact, issue.inclusive, ['exactly equal to ', 'greater than or equal to ', 'greater than '])}${issue.minimum}`;
      return 'Invalid input';
    case ZodIssueCode.too_big:
      if (issue.type === 'number')
        return `Number must be ${comparison(issue.exact, issue.inclusive, ['exactly', 'less than or equal to', 'less than'])} ${issue.maximum}`;
      return 'Invalid input';
    case ZodIssueCode.invalid_union:
    case ZodIssueCode.custom:
      return 'Invalid input';
    default:
      throw new Error(`@tscni/zod-run: no message for issue code ${issue.code}`);
  }
}

/** zod's makeIssue + addIssueToContext: an explicit message wins, else the default then the schema's map. */
export function addIssue(
  common: Common,
  data: unknown,
  path: Path,
  schemaErrorMap: ErrorMap | undefined,
  issueData: IssueData,
): void {
  const fullPath = [...path, ...(issueData.path || [])];
  if (issueData.message !== undefined) {
    common.issues.push({ ...issueData, path: fullPath, message: issueData.message } as Issue);
    return;
  }
  const fullIssue = { ...issueData, path: fullPath } as Issue;
  let message = defaultMessage(fullIssue);
  if (schemaErrorMap) message = schemaErrorMap(fullIssue, { data, defaultError: message }).message;
  common.issues.push({ ...issueData, path: fullPath, message } as Issue);
}
