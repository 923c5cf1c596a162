import { CniError, ErrorCode, convertResult, toCurrentResult } from '@tscni/cni';
import type { ResultJSON } from './types';

/** A result in `version`: as it is when it already is (after a shape check), else converted (libcni `GetAsVersion`). */
export function resultInVersion(raw: ResultJSON, version: string): ResultJSON {
  // A result without cniVersion is taken to be in the config's version (libcni `fixupResultVersion`).
  const own = typeof raw.cniVersion === 'string' && raw.cniVersion ? raw.cniVersion : version;
  const current = toCurrentResult({ ...raw, cniVersion: own }, version);
  if (own === version) return { ...raw, cniVersion: own };
  return convertResult(current, version);
}

/** Decode a plugin's ADD output into a result in the list's version. */
export function resultFromPlugin(stdout: string, version: string): ResultJSON {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch (e) {
    throw new CniError(
      ErrorCode.DecodingFailure,
      `decoding the plugin's result: ${(e as Error).message}`,
      stdout.trim().slice(0, 200),
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new CniError(ErrorCode.DecodingFailure, "decoding the plugin's result: not a JSON object");
  return resultInVersion(raw as ResultJSON, version);
}
