import type { ErrorMap } from './issues';

/** A schema's definition: zod's `_def`, whose fields @tscni/cni's go-json reads (typeName, innerType, shape, …). */
export interface Def {
  typeName: string;
  errorMap?: ErrorMap;
  description?: string;
  [field: string]: unknown;
}

export type CreateParams =
  | {
      errorMap?: ErrorMap;
      invalid_type_error?: string;
      required_error?: string;
      message?: string;
      description?: string;
    }
  | undefined;

const KNOWN = new Set(['errorMap', 'invalid_type_error', 'required_error', 'message', 'description']);

/** A feature of zod this subset does not have: thrown when the schema is built, so a test that builds it fails. */
export function unsupported(what: string): Error {
  return new Error(`@tscni/zod-run does not implement ${what} (add it, with a case in its equivalence test)`);
}

/** zod's processCreateParams: a schema's own error map from `errorMap` or from the message shortcuts. */
export function processCreateParams(params: CreateParams): { errorMap?: ErrorMap; description?: string } {
  if (!params) return {};
  for (const key of Object.keys(params)) if (!KNOWN.has(key)) throw unsupported(`the schema parameter "${key}"`);
  const { errorMap, invalid_type_error, required_error, description } = params;
  if (errorMap && (invalid_type_error || required_error))
    throw new Error(`Can't use "invalid_type_error" or "required_error" in conjunction with custom error map.`);
  if (errorMap) return { errorMap, description };
  const customMap: ErrorMap = (iss, ctx) => {
    const { message } = params;
    if (iss.code === 'invalid_enum_value') return { message: message ?? ctx.defaultError };
    if (typeof ctx.data === 'undefined') return { message: message ?? required_error ?? ctx.defaultError };
    if (iss.code !== 'invalid_type') return { message: ctx.defaultError };
    return { message: message ?? invalid_type_error ?? ctx.defaultError };
  };
  return { errorMap: customMap, description };
}

/**
 * What a wrapper (`.optional()`, `.default()`, `.transform()`) takes over from the schema it wraps: zod passes the
 * inner `_def` through processCreateParams, which keeps its error map (a def without one yields a map that always
 * answers the default message, i.e. none).
 */
export function inheritedParams(def: Def): { errorMap?: ErrorMap; description?: string } {
  return def.errorMap ? { errorMap: def.errorMap, description: def.description } : {};
}

/** zod's errorUtil.errToObj / errorUtil.toString for a check's message argument. */
export type ErrMessage = string | { message?: string } | undefined;
export const errToObj = (message: ErrMessage): { message?: string } =>
  typeof message === 'string' ? { message } : message || {};
export const errToString = (message: ErrMessage): string | undefined =>
  typeof message === 'string' ? message : message?.message;
