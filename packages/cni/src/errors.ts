/** Error codes of the CNI spec (SPEC §Error) plus the ones libcni and skel use. */
export const ErrorCode = {
  Unknown: 0,
  IncompatibleCNIVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironmentVariables: 4,
  IOFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  InvalidNetNS: 8,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  LimitedConnectivity: 51,
  Internal: 999,
} as const;

/**
 * A CNI error: printed by the skeleton as `{code,msg,details}` on stdout, exit 1. Only for the codes a runtime acts
 * on (1–7, 11, 50, 51, plugin-specific 100+); an internal failure is a plain Error, which the skeleton reports as
 * the generic error 999 with the Error's message, like the reference's skel does with a Go error.
 */
export class CniError extends Error {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = '',
  ) {
    super(details ? `${msg}: ${details}` : msg);
    this.name = 'CniError';
  }

  toJSON(): { code: number; msg: string; details?: string } {
    return this.details
      ? { code: this.code, msg: this.msg, details: this.details }
      : { code: this.code, msg: this.msg };
  }

  static from(err: unknown): CniError {
    if (err instanceof CniError) return err;
    const message = err instanceof Error ? err.message : String(err);
    // A bug (not a refusal of the kernel or a tool): say so, so that it is told apart from those (same code, as the reference)
    if (
      err instanceof TypeError ||
      err instanceof ReferenceError ||
      err instanceof RangeError ||
      err instanceof SyntaxError
    ) {
      return new CniError(ErrorCode.Internal, message, `internal error (${err.name})`);
    }
    return new CniError(ErrorCode.Internal, message);
  }
}

export const invalidConfig = (field: string, why: string): CniError =>
  new CniError(ErrorCode.InvalidNetworkConfig, `invalid network config: ${field}: ${why}`);
