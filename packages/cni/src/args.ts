import { CniError, ErrorCode } from './errors';

/**
 * Parse `CNI_ARGS` (`K1=V1;K2=V2`) like the reference's `types.LoadArgs`: every pair must have exactly
 * one `=`, keys are case-sensitive, and a key the plugin does not know is an error unless `IgnoreUnknown`
 * is `1`/`true`.
 */
export function parseCniArgs(raw: string | undefined, known: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  const unknown: string[] = [];
  const pairs = raw.split(';').filter((p) => p !== '');
  let ignoreUnknown = false;
  const entries: [string, string][] = [];
  for (const pair of pairs) {
    const parts = pair.split('=');
    if (parts.length !== 2) throw new CniError(ErrorCode.InvalidEnvironmentVariables, `ARGS: invalid pair "${pair}"`);
    const [key, value] = parts as [string, string];
    if (key === 'IgnoreUnknown') {
      const v = value.toLowerCase();
      if (!['1', 'true', '0', 'false'].includes(v))
        throw new CniError(ErrorCode.InvalidEnvironmentVariables, `ARGS: invalid value "${value}" for IgnoreUnknown`);
      ignoreUnknown = v === '1' || v === 'true';
      continue;
    }
    entries.push([key, value]);
  }
  for (const [key, value] of entries) {
    if (known.includes(key)) out[key] = value;
    else unknown.push(key);
  }
  if (unknown.length && !ignoreUnknown)
    throw new CniError(
      ErrorCode.InvalidEnvironmentVariables,
      `ARGS: unknown args [${unknown.map((k) => JSON.stringify(k)).join(' ')}]`,
    );
  return out;
}

/** Keys the Kubernetes runtimes always send (with IgnoreUnknown=1). */
export const K8S_ARGS = ['K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID'] as const;
