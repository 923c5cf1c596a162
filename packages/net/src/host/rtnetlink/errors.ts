/** What `ip` prints when the kernel refuses a request, so callers' `isNotFound`/`isExists` and messages keep working. */

/** glibc's strerror for the errnos rtnetlink answers with (others: "Unknown error N", as glibc says). */
const STRERROR: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  3: 'No such process',
  5: 'Input/output error',
  7: 'Argument list too long',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  14: 'Bad address',
  16: 'Device or resource busy',
  17: 'File exists',
  19: 'No such device',
  22: 'Invalid argument',
  23: 'Too many open files in system',
  24: 'Too many open files',
  28: 'No space left on device',
  34: 'Numerical result out of range',
  36: 'File name too long',
  40: 'Too many levels of symbolic links',
  61: 'No data available',
  71: 'Protocol error',
  75: 'Value too large for defined data type',
  90: 'Message too long',
  93: 'Protocol not supported',
  95: 'Operation not supported',
  97: 'Address family not supported by protocol',
  98: 'Address already in use',
  99: 'Cannot assign requested address',
  100: 'Network is down',
  101: 'Network is unreachable',
  105: 'No buffer space available',
  110: 'Connection timed out',
  113: 'No route to host',
};

export const strerror = (errno: number): string => STRERROR[errno] ?? `Unknown error ${errno}`;

/**
 * One failed command: the message is what `ip` writes to stderr for it (without the batch trailer); `exitCode` what
 * `ip` exits with when it is the only command (a batch exits 1).
 */
export class IpFailure extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * iproute2's rtnl_talk error: the extended ACK's message as `Error: <msg>.`, else `RTNETLINK answers: <strerror>`;
 * a lone command then exits 2.
 */
export function kernelError(errno: number, message?: string): IpFailure {
  if (message) return new IpFailure(`Error: ${message}${message.endsWith('.') ? '' : '.'}`, 2);
  return new IpFailure(`RTNETLINK answers: ${strerror(errno)}`, 2);
}
