import { CniError, ErrorCode } from '@tscni/cni/errors';
import { ServerError, goRpcCall } from './go-rpc';
import type { Method, WireCmdArgs } from './rpc';

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  ENOTSOCK: 'socket operation on non-socket',
};

/** The text a daemon without the method answers (Go's net/rpc, and ours for unknown methods). */
export const isMissingMethod = (err: unknown): boolean =>
  err instanceof CniError && /rpc: can't find method/.test(err.message);

/**
 * One call to the daemon (ours or the reference's). A daemon that is not there is "try again later" (11) with
 * the reference's text, `error dialing DHCP daemon: dial unix <path>: connect: …`; an error the daemon reports
 * is `error calling DHCP.<Method>: …`.
 */
export async function callDaemon(
  socketPath: string,
  method: Method,
  args: WireCmdArgs,
): Promise<Record<string, unknown>> {
  try {
    return await goRpcCall(socketPath, method, args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof ServerError) throw new CniError(ErrorCode.Internal, `error calling ${method}: ${e.message}`);
    if (e.code === 'EHTTP')
      throw new CniError(
        ErrorCode.TryAgainLater,
        `error dialing DHCP daemon: dial-http unix ${socketPath}: ${e.message}`,
      );
    if (e.syscall === 'connect') {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `error dialing DHCP daemon: dial unix ${socketPath}: connect: ${ERRNO_TEXT[e.code ?? ''] ?? e.message}`,
      );
    }
    throw new CniError(ErrorCode.Internal, `error calling ${method}: ${e.message}`);
  }
}
