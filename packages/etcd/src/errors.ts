/**
 * grpc reports every TLS refusal as "14 UNAVAILABLE: No connection established. Last error: <openssl text>";
 * this turns the usual ones into a sentence that names the flag to fix.
 */
import type { EtcdConfig, FlagDash } from './config';

export class EtcdError extends Error {
  override name = 'EtcdError';
}

/** The alert the server sent (it refused our certificate) or why we refused its certificate. */
const SERVER_REFUSED =
  /alert (bad certificate|certificate required|unknown ca|certificate unknown|unsupported certificate|certificate expired|certificate revoked|access denied)/i;
const WE_REFUSED =
  /(unable to verify the first certificate|self[- ]signed certificate[^.;:]*|unable to get (?:local )?issuer certificate|certificate has expired|Hostname\/IP does not match[^.;]*|ERR_TLS_CERT_ALTNAME_INVALID)/i;

/** etcd3's circuit breaker: after failures on every endpoint it refuses calls for a few seconds (cockatiel's error). */
export const isBrokenCircuit = (err: unknown): boolean =>
  err instanceof Error && (err.name === 'BrokenCircuitError' || /circuit breaker is open/.test(err.message));
export const PAUSED = 'calls paused for a few seconds after failing';

/** The grpc error's cause without its timestamps and openssl source locations. */
export function lastError(message: string): string {
  const m = /Last error: ([\s\S]*?)(?:\s*\(\d{4}-\d\d-\d\dT[^)]*\))?\.?\s*Resolution note:/.exec(message);
  return (m ? m[1] : message).replace(/^Error: /, '').trim();
}

export function explainEtcdError(err: unknown, c: EtcdConfig, dash: FlagDash = '--'): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = lastError(message);
  const at = c.endpoints.join(',');
  if (isBrokenCircuit(err)) return `etcd at ${at}: ${PAUSED}`;
  const refused = SERVER_REFUSED.exec(cause);
  if (refused) {
    const fix = c.certfile
      ? `${dash}etcd-certfile ${c.certfile} is not signed by a CA that etcd trusts (its --trusted-ca-file)`
      : `etcd checks client certificates: give ${dash}etcd-certfile and ${dash}etcd-keyfile`;
    return `etcd at ${at} refused the client certificate (TLS alert "${refused[1].toLowerCase()}"): ${fix}`;
  }
  const untrusted = WE_REFUSED.exec(cause);
  if (untrusted) {
    const fix = c.cafile
      ? `it is not signed by the CA in ${dash}etcd-cafile ${c.cafile}`
      : `give the CA that signed it with ${dash}etcd-cafile`;
    return `etcd's server certificate at ${at} is not trusted (${untrusted[1]}): ${fix}`;
  }
  if (/UNAVAILABLE|ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|DEADLINE_EXCEEDED|Failed to connect/i.test(message)) {
    // A TLS port answering a plaintext client: grpc only says the connection failed.
    const tlsHint =
      c.endpoints.every((e) => e.startsWith('http://')) &&
      !/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/.test(cause)
        ? ' (a TLS-only etcd needs https:// endpoints)'
        : '';
    return `etcd unreachable at ${at}: ${cause}${tlsHint}`;
  }
  return `etcd at ${at}: ${cause}`;
}

/**
 * The failures of one client's calls, explained (explainEtcdError) and thrown as EtcdError. It remembers
 * the last cause: once etcd3's circuit breaker opens, a call's own error says only that calls are paused.
 */
export class EtcdFailures {
  private last?: string;

  constructor(
    private readonly config: EtcdConfig,
    private readonly dash: FlagDash = '--',
  ) {}

  explain(err: unknown): EtcdError {
    if (isBrokenCircuit(err) && this.last) return new EtcdError(`${this.last} (${PAUSED})`);
    this.last = explainEtcdError(err, this.config, this.dash);
    return new EtcdError(this.last);
  }

  /** `fn()`, its failure rethrown explained. */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.explain(err);
    }
  }
}
