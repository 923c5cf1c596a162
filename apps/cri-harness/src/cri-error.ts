import { status } from '@grpc/grpc-js';

/** An error with the gRPC status code the CRI client should see. */
export class CriError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'CriError';
  }
}

export const notFound = (what: string): CriError =>
  new CriError(status.NOT_FOUND, `an error occurred when try to find sandbox: ${what}: not found`);
export const invalidArgument = (message: string): CriError => new CriError(status.INVALID_ARGUMENT, message);

/** The longest status message sent: it travels in an HTTP/2 trailer, and one echoing a huge request field
 * would exceed the client's header limit (it then sees only DEADLINE_EXCEEDED instead of the status). */
export const MAX_DETAILS = 4096;

const capped = (details: string): string =>
  details.length <= MAX_DETAILS ? details : `${details.slice(0, MAX_DETAILS)}… (${details.length} characters)`;

/** Whatever was thrown, as a gRPC status: CriErrors keep their code, anything else is UNKNOWN (as containerd). */
export function toServiceError(err: unknown): { code: status; details: string } {
  if (err instanceof CriError) return { code: err.code, details: capped(err.message) };
  return { code: status.UNKNOWN, details: capped(err instanceof Error ? err.message : String(err)) };
}
