import { getParsedType } from './parsed-type';
import { ZodError, ZodIssueCode, type Common, type Issue } from './issues';
import { processCreateParams, unsupported, type CreateParams } from './params';
import { invalidType } from './primitives';
import { INVALID, ZodType, type Input, type Result } from './schema';

type Shape = Record<string, ZodType>;
type Pair = { key: string; value: Result; alwaysSet?: boolean };

/** zod's ParseStatus.mergeObjectSync: every pair was parsed first, so every issue is already reported. */
function mergeObject(pairs: Pair[]): Result {
  let dirty = false;
  const out: Record<string, unknown> = {};
  for (const { key, value, alwaysSet } of pairs) {
    if (value.status === 'aborted') return INVALID;
    if (value.status === 'dirty') dirty = true;
    if (key !== '__proto__' && (typeof value.value !== 'undefined' || alwaysSet)) out[key] = value.value;
  }
  return { status: dirty ? 'dirty' : 'valid', value: out };
}

/** An object: the shape's keys in shape order, then (passthrough) the input's other keys in input order. */
export class ZodObject extends ZodType {
  private _cached: { shape: Shape; keys: string[] } | undefined;

  get shape(): Shape {
    return (this._def.shape as () => Shape)();
  }

  _parse(input: Input): Result {
    if (getParsedType(input.data) !== 'object') return invalidType(this, input, 'object');
    const data = input.data as Record<string, unknown>;
    if (!this._cached) {
      const shape = this.shape;
      this._cached = { shape, keys: Object.keys(shape) };
    }
    const { shape, keys } = this._cached;
    const passthrough = this._def.unknownKeys === 'passthrough';
    const extraKeys: string[] = [];
    if (passthrough) for (const key in data) if (!keys.includes(key)) extraKeys.push(key);
    const pairs: Pair[] = [];
    for (const key of keys) {
      const value = shape[key]._parse({ data: data[key], path: [...input.path, key], common: input.common });
      pairs.push({ key, value, alwaysSet: key in data });
    }
    for (const key of extraKeys) pairs.push({ key, value: { status: 'valid', value: data[key] } });
    return mergeObject(pairs);
  }

  passthrough(): ZodObject {
    return new ZodObject({ ...this._def, unknownKeys: 'passthrough' });
  }

  extend(augmentation: Shape): ZodObject {
    const shape = this._def.shape as () => Shape;
    return new ZodObject({ ...this._def, shape: () => ({ ...shape(), ...augmentation }) });
  }
}

export class ZodArray extends ZodType {
  _parse(input: Input): Result {
    if (!Array.isArray(input.data)) return invalidType(this, input, 'array');
    const type = this._def.type as ZodType;
    const results = [...input.data].map((item, i) =>
      type._parse({ data: item, path: [...input.path, i], common: input.common }),
    );
    let dirty = false;
    const value: unknown[] = [];
    for (const r of results) {
      if (r.status === 'aborted') return INVALID;
      if (r.status === 'dirty') dirty = true;
      value.push(r.value);
    }
    return { status: dirty ? 'dirty' : 'valid', value };
  }
}

/** `z.record(valueType)`: string keys (always valid), every value checked. */
export class ZodRecord extends ZodType {
  _parse(input: Input): Result {
    if (getParsedType(input.data) !== 'object') return invalidType(this, input, 'object');
    const data = input.data as Record<string, unknown>;
    const valueType = this._def.valueType as ZodType;
    const pairs: Pair[] = [];
    for (const key in data) {
      const value = valueType._parse({ data: data[key], path: [...input.path, key], common: input.common });
      pairs.push({ key, value, alwaysSet: key in data });
    }
    return mergeObject(pairs);
  }
}

/** The first valid option wins; else the first dirty one's issues; else one invalid_union with every option's. */
export class ZodUnion extends ZodType {
  _parse(input: Input): Result {
    let dirty: { result: Result; common: Common } | undefined;
    const issues: Issue[][] = [];
    for (const option of this._def.options as ZodType[]) {
      const common: Common = { issues: [] };
      const result = option._parse({ data: input.data, path: input.path, common });
      if (result.status === 'valid') return result;
      if (result.status === 'dirty' && !dirty) dirty = { result, common };
      if (common.issues.length) issues.push(common.issues);
    }
    if (dirty) {
      input.common.issues.push(...dirty.common.issues);
      return dirty.result;
    }
    this._issue(input, { code: ZodIssueCode.invalid_union, unionErrors: issues.map((i) => new ZodError(i)) });
    return INVALID;
  }
}

export const object = (shape: Shape, params?: CreateParams) =>
  new ZodObject({ shape: () => shape, unknownKeys: 'strip', typeName: 'ZodObject', ...processCreateParams(params) });

export const array = (type: ZodType, params?: CreateParams) =>
  new ZodArray({
    type,
    minLength: null,
    maxLength: null,
    exactLength: null,
    typeName: 'ZodArray',
    ...processCreateParams(params),
  });

export const record = (valueType: ZodType, params?: CreateParams) => {
  if (params instanceof ZodType) throw unsupported('z.record(keyType, valueType)');
  return new ZodRecord({ valueType, typeName: 'ZodRecord', ...processCreateParams(params) });
};

export const union = (options: ZodType[], params?: CreateParams) =>
  new ZodUnion({ options, typeName: 'ZodUnion', ...processCreateParams(params) });
