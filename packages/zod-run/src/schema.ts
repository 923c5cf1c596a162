import { addIssue, ZodError, ZodIssueCode, type Common, type IssueData, type Path } from './issues';
import { inheritedParams, processCreateParams, unsupported, type CreateParams, type Def } from './params';

/** One schema's verdict (zod's SyncParseReturnType): valid, dirty (issues, value kept) or aborted. */
export type Result = { status: 'valid' | 'dirty'; value: unknown } | { status: 'aborted' };
export const INVALID: Result = Object.freeze({ status: 'aborted' });
export const OK = (value: unknown): Result => ({ status: 'valid', value });

/** What a schema parses: the value, where it sits, and the parse's issue list. */
export interface Input {
  data: unknown;
  path: Path;
  common: Common;
}

/** zod's ParseStatus. */
export class Status {
  value: 'valid' | 'dirty' | 'aborted' = 'valid';
  dirty(): void {
    if (this.value === 'valid') this.value = 'dirty';
  }
  abort(): void {
    this.value = 'aborted';
  }
}

export interface RefinementCtx {
  addIssue(issue: IssueData): void;
  readonly path: Path;
}

type SafeParse = { success: true; data: unknown } | { success: false; readonly error: ZodError };

/** The methods every zod 3 schema has that the plugins call; the rest are absent, so calling one throws. */
export abstract class ZodType {
  readonly _def: Def;
  constructor(def: Def) {
    this._def = def;
  }

  abstract _parse(input: Input): Result;

  /** Report an issue from this schema (its error map applies). */
  _issue(input: Input, issue: IssueData): void {
    addIssue(input.common, input.data, input.path, this._def.errorMap, issue);
  }

  safeParse(data: unknown, ...params: unknown[]): SafeParse {
    if (params.length) throw unsupported('safeParse parameters');
    const common: Common = { issues: [] };
    const result = this._parse({ data, path: [], common });
    if (result.status === 'valid') return { success: true, data: result.value };
    if (!common.issues.length) throw new Error('Validation failed but no issues detected.');
    let error: ZodError | undefined;
    return {
      success: false,
      get error() {
        return (error ??= new ZodError(common.issues));
      },
    };
  }

  parse(data: unknown): unknown {
    const result = this.safeParse(data);
    if (result.success) return result.data;
    throw result.error;
  }

  optional(): ZodOptional {
    return new ZodOptional({ innerType: this, typeName: 'ZodOptional', ...inheritedParams(this._def) });
  }

  default(value: unknown): ZodDefault {
    const defaultValue = typeof value === 'function' ? value : () => value;
    return new ZodDefault({ ...inheritedParams(this._def), innerType: this, defaultValue, typeName: 'ZodDefault' });
  }

  refine(check: (value: unknown) => unknown, message?: string | Record<string, unknown>): ZodEffects {
    if (typeof message === 'function') throw unsupported('a refine message function');
    const properties = typeof message === 'string' || message === undefined ? { message } : message;
    return this.superRefine((value, ctx) => {
      const result = check(value);
      if (result instanceof Promise) throw unsupported('an async refinement');
      if (!result) ctx.addIssue({ code: ZodIssueCode.custom, ...properties });
      return !!result;
    });
  }

  superRefine(refinement: (value: unknown, ctx: RefinementCtx) => unknown): ZodEffects {
    return new ZodEffects({ schema: this, typeName: 'ZodEffects', effect: { type: 'refinement', refinement } });
  }

  transform(transform: (value: unknown, ctx: RefinementCtx) => unknown): ZodEffects {
    return new ZodEffects({
      ...inheritedParams(this._def),
      schema: this,
      typeName: 'ZodEffects',
      effect: { type: 'transform', transform },
    });
  }

  pipe(target: ZodType): ZodPipeline {
    return new ZodPipeline({ in: this, out: target, typeName: 'ZodPipeline' });
  }
}

export class ZodOptional extends ZodType {
  _parse(input: Input): Result {
    if (input.data === undefined) return OK(undefined);
    return (this._def.innerType as ZodType)._parse(input);
  }
}

export class ZodDefault extends ZodType {
  _parse(input: Input): Result {
    const data = input.data === undefined ? (this._def.defaultValue as () => unknown)() : input.data;
    return (this._def.innerType as ZodType)._parse({ data, path: input.path, common: input.common });
  }
}

type Effect =
  | { type: 'refinement'; refinement: (value: unknown, ctx: RefinementCtx) => unknown }
  | { type: 'transform' | 'preprocess'; transform: (value: unknown, ctx: RefinementCtx) => unknown };

/** refine/superRefine, transform and preprocess, with zod's order of issues and its dirty/aborted rules. */
export class ZodEffects extends ZodType {
  _parse(input: Input): Result {
    const status = new Status();
    const effect = this._def.effect as Effect;
    const schema = this._def.schema as ZodType;
    const ctx: RefinementCtx = {
      addIssue: (issue: IssueData) => {
        this._issue(input, issue);
        if (issue.fatal) status.abort();
        else status.dirty();
      },
      get path() {
        return input.path;
      },
    };
    if (effect.type === 'preprocess') {
      const processed = notAsync(effect.transform(input.data, ctx));
      if (status.value === 'aborted') return INVALID;
      const result = schema._parse({ data: processed, path: input.path, common: input.common });
      if (result.status === 'aborted') return INVALID;
      if (result.status === 'dirty' || status.value === 'dirty') return { status: 'dirty', value: result.value };
      return result;
    }
    const inner = schema._parse(input);
    if (effect.type === 'refinement') {
      if (inner.status === 'aborted') return INVALID;
      if (inner.status === 'dirty') status.dirty();
      notAsync(effect.refinement(inner.value, ctx));
      return { status: status.value as 'valid' | 'dirty', value: inner.value };
    }
    if (inner.status !== 'valid') return INVALID;
    const value = notAsync(effect.transform(inner.value, ctx));
    return { status: status.value, value } as Result;
  }
}

function notAsync(value: unknown): unknown {
  if (value instanceof Promise) throw new Error('Asynchronous effect encountered during synchronous parse operation.');
  return value;
}

export class ZodPipeline extends ZodType {
  _parse(input: Input): Result {
    const inResult = (this._def.in as ZodType)._parse(input);
    if (inResult.status === 'aborted') return INVALID;
    if (inResult.status === 'dirty') return { status: 'dirty', value: inResult.value };
    return (this._def.out as ZodType)._parse({ data: inResult.value, path: input.path, common: input.common });
  }
}

export class ZodLazy extends ZodType {
  get schema(): ZodType {
    return (this._def.getter as () => ZodType)();
  }
  _parse(input: Input): Result {
    return this.schema._parse(input);
  }
}

export const lazy = (getter: () => ZodType, params?: CreateParams): ZodLazy =>
  new ZodLazy({ getter, typeName: 'ZodLazy', ...processCreateParams(params) });

export const preprocess = (
  transform: (value: unknown, ctx: RefinementCtx) => unknown,
  schema: ZodType,
  params?: CreateParams,
): ZodEffects =>
  new ZodEffects({
    schema,
    effect: { type: 'preprocess', transform },
    typeName: 'ZodEffects',
    ...processCreateParams(params),
  });
