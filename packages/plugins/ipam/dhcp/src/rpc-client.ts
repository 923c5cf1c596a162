import { connect } from 'node:net';
import { CniError, ErrorCode } from '@tscni/cni';
import type { LeaseInfo, Method, RpcParams, RpcResponse } from './rpc';

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  ENOTSOCK: 'socket operation on non-socket',
};

/**
 * One call to the daemon. A daemon that is not there is "try again later" (11) with the reference's text,
 * `error dialing DHCP daemon: dial unix <path>: connect: …`; an error the daemon reports is
 * `error calling DHCP.<Method>: …`.
 */
export function callDaemon(socketPath: string, method: Method, params: RpcParams): Promise<LeaseInfo | undefined> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let connected = false;
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      connected = true;
      sock.write(JSON.stringify({ method, params }) + '\n');
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      sock.end();
      let res: RpcResponse;
      try {
        res = JSON.parse(buf.slice(0, nl)) as RpcResponse;
      } catch {
        return reject(new CniError(ErrorCode.Internal, `error calling ${method}: malformed reply from the DHCP daemon`));
      }
      if ('error' in res) reject(new CniError(ErrorCode.Internal, `error calling ${method}: ${res.error}`));
      else resolve(Object.keys(res.result).length ? (res.result as LeaseInfo) : undefined);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) return reject(new CniError(ErrorCode.Internal, `error calling ${method}: ${err.message}`));
      const text = ERRNO_TEXT[err.code ?? ''] ?? err.message;
      reject(new CniError(ErrorCode.TryAgainLater, `error dialing DHCP daemon: dial unix ${socketPath}: connect: ${text}`));
    });
    sock.on('end', () => {
      if (!buf.includes('\n')) reject(new CniError(ErrorCode.Internal, `error calling ${method}: the DHCP daemon closed the connection`));
    });
  });
}
