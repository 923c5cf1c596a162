import { getParsedType } from './parsed-type';
import { joinValues, ZodIssueCode } from './issues';
import { errToObj, errToString, processCreateParams, type CreateParams, type ErrMessage } from './params';
import { INVALID, OK, Status, ZodType, type Input, type Result } from './schema';

type Check = { kind: string; value?: number; inclusive?: boolean; regex?: RegExp; message?: string };

/** A string, then its checks in the order they were added (every failing check is an issue). */
export class ZodString extends ZodType {
  _parse(input: Input): Result {
    if (typeof input.data !== 'string') return invalidType(this, input, 'string');
    const data = input.data;
    const status = new Status();
    for (const check of this._def.checks as Check[]) {
      if (check.kind === 'min') {
        if (data.length < check.value!) {
          this._issue(input, {
            code: ZodIssueCode.too_small,
            minimum: check.value,
            type: 'string',
            inclusive: true,
            exact: false,
            message: check.message,
          });
          status.dirty();
        }
      } else {
        check.regex!.lastIndex = 0;
        if (!check.regex!.test(data)) {
          this._issue(input, { validation: 'regex', code: ZodIssueCode.invalid_string, message: check.message });
          status.dirty();
        }
      }
    }
    return { status: status.value, value: data } as Result;
  }

  private _addCheck(check: Check): ZodString {
    return new ZodString({ ...this._def, checks: [...(this._def.checks as Check[]), check] });
  }
  min(value: number, message?: ErrMessage): ZodString {
    return this._addCheck({ kind: 'min', value, ...errToObj(message) });
  }
  regex(regex: RegExp, message?: ErrMessage): ZodString {
    return this._addCheck({ kind: 'regex', regex, ...errToObj(message) });
  }
}

/** A number (NaN is not one), then its checks in the order they were added. */
export class ZodNumber extends ZodType {
  _parse(input: Input): Result {
    if (getParsedType(input.data) !== 'number') return invalidType(this, input, 'number');
    const data = input.data as number;
    const status = new Status();
    for (const check of this._def.checks as Check[]) {
      if (check.kind === 'int') {
        if (!Number.isInteger(data)) {
          this._issue(input, {
            code: ZodIssueCode.invalid_type,
            expected: 'integer',
            received: 'float',
            message: check.message,
          });
          status.dirty();
        }
      } else if (check.kind === 'min') {
        if (check.inclusive ? data < check.value! : data <= check.value!) {
          this._issue(input, {
            code: ZodIssueCode.too_small,
            minimum: check.value,
            type: 'number',
            inclusive: check.inclusive,
            exact: false,
            message: check.message,
          });
          status.dirty();
        }
      } else if (check.inclusive ? data > check.value! : data >= check.value!) {
        this._issue(input, {
          code: ZodIssueCode.too_big,
          maximum: check.value,
          type: 'number',
          inclusive: check.inclusive,
          exact: false,
          message: check.message,
        });
        status.dirty();
      }
    }
    return { status: status.value, value: data } as Result;
  }

  private _addCheck(check: Check): ZodNumber {
    return new ZodNumber({ ...this._def, checks: [...(this._def.checks as Check[]), check] });
  }
  int(message?: ErrMessage): ZodNumber {
    return this._addCheck({ kind: 'int', message: errToString(message) });
  }
  min(value: number, message?: ErrMessage): ZodNumber {
    return this._addCheck({ kind: 'min', value, inclusive: true, message: errToString(message) });
  }
  max(value: number, message?: ErrMessage): ZodNumber {
    return this._addCheck({ kind: 'max', value, inclusive: true, message: errToString(message) });
  }
  nonnegative(message?: ErrMessage): ZodNumber {
    return this._addCheck({ kind: 'min', value: 0, inclusive: true, message: errToString(message) });
  }
}

export class ZodBoolean extends ZodType {
  _parse(input: Input): Result {
    if (typeof input.data !== 'boolean') return invalidType(this, input, 'boolean');
    return OK(input.data);
  }
}

export class ZodUnknown extends ZodType {
  _parse(input: Input): Result {
    return OK(input.data);
  }
}

export class ZodLiteral extends ZodType {
  _parse(input: Input): Result {
    if (input.data === this._def.value) return { status: 'valid', value: input.data };
    this._issue(input, { received: input.data, code: ZodIssueCode.invalid_literal, expected: this._def.value });
    return INVALID;
  }
}

export class ZodEnum extends ZodType {
  private _cache: Set<unknown> | undefined;
  get options(): string[] {
    return this._def.values as string[];
  }
  _parse(input: Input): Result {
    const values = this._def.values as string[];
    if (typeof input.data !== 'string') {
      this._issue(input, {
        expected: joinValues(values),
        received: getParsedType(input.data),
        code: ZodIssueCode.invalid_type,
      });
      return INVALID;
    }
    this._cache ??= new Set(values);
    if (this._cache.has(input.data)) return OK(input.data);
    this._issue(input, { received: input.data, code: ZodIssueCode.invalid_enum_value, options: values });
    return INVALID;
  }
}

/** zod's invalid_type for a value of the wrong JavaScript type. */
export function invalidType(schema: ZodType, input: Input, expected: string): Result {
  schema._issue(input, {
    code: ZodIssueCode.invalid_type,
    expected,
    received: getParsedType(input.data),
  });
  return INVALID;
}

const withParams = (params: CreateParams, def: Record<string, unknown>) =>
  ({ ...def, ...processCreateParams(params) }) as ZodType['_def'];

export const string = (params?: CreateParams) =>
  new ZodString(withParams(params, { checks: [], typeName: 'ZodString', coerce: false }));
export const number = (params?: CreateParams) =>
  new ZodNumber(withParams(params, { checks: [], typeName: 'ZodNumber', coerce: false }));
export const boolean = (params?: CreateParams) =>
  new ZodBoolean(withParams(params, { typeName: 'ZodBoolean', coerce: false }));
export const unknown = (params?: CreateParams) => new ZodUnknown(withParams(params, { typeName: 'ZodUnknown' }));
export const literal = (value: unknown, params?: CreateParams) =>
  new ZodLiteral(withParams(params, { value, typeName: 'ZodLiteral' }));
export const enumOf = (values: string[], params?: CreateParams) =>
  new ZodEnum(withParams(params, { values, typeName: 'ZodEnum' }));
