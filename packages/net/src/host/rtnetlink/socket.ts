import {
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  replies,
  attrs,
  get32,
  i32,
  type Reply,
  type Request,
} from './message';
import { sys, type Sys } from '@tscni/cni/sys';
import { ascii, cString } from './text';

const AF_NETLINK = 16;
const EINVAL = 22;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;
const CLONE_NEWNET = 0x40000000;
const AT_FDCWD = -100;
const O_RDONLY_CLOEXEC = 0x80000;
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

/** What the kernel answered a request: its replies, and errno (0: done) with the extended ACK's message if any. */
export interface Answer {
  errno: number;
  /** The kernel's extended-ACK text (iproute2 prints it as `Error: <text>.`). */
  message?: string;
  replies: Reply[];
}

/** `open(path, O_RDONLY|O_CLOEXEC)`: the descriptor, or -errno. */
export function openFd(s: Sys, path: string): number {
  const p = cString(path);
  if (!p) return -EINVAL;
  return s.call('openat', AT_FDCWD, s.ptr(p), O_RDONLY_CLOEXEC, 0);
}

/**
 * Where every datagram is received: one buffer for the process (an exchange runs from sendto to its last recvfrom
 * without yielding), not 64 KiB allocated and zeroed per datagram.
 */
const RX = new Uint8Array(1 << 16);

/** An rtnetlink socket of one network namespace; every call is synchronous (the kernel answers within sendto). */
export class RtSocket {
  private seq = 1;

  private constructor(
    private readonly s: Sys,
    private readonly fd: number,
    /** This thread's own namespace, open while the socket is (a veth peer sent "home" is put there by fd). */
    readonly homeNsFd: number,
  ) {}

  /**
   * A socket of the namespace at `netns` (this thread's own when unset): this thread enters it for the one
   * `socket(2)` call and comes back (a socket stays bound to the namespace it was made in). `{ nsErrno }` when the
   * namespace cannot be opened, undefined when anything else fails (the caller runs `ip`, which then says why); a
   * thread that cannot come back aborts the process.
   */
  static open(netns: string | undefined): RtSocket | { nsErrno: number } | undefined {
    const s = sys();
    if (!s) return undefined;
    const home = openFd(s, '/proc/thread-self/ns/net');
    if (home < 0) return undefined;
    let fd = -1;
    if (netns === undefined) fd = s.call('socket', AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    else {
      const target = openFd(s, netns);
      if (target < 0) {
        s.call('close', home);
        return { nsErrno: -target };
      } else {
        if (s.call('setns', target, CLONE_NEWNET) === 0) {
          fd = s.call('socket', AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
          // Back home before anything else runs: a thread left in the pod would do the host's work there.
          if (s.call('setns', home, CLONE_NEWNET) !== 0) {
            process.stderr.write(
              `setns back to the host's network namespace failed after opening a socket in ${netns}\n`,
            );
            process.abort();
          }
        }
        s.call('close', target);
      }
    }
    if (fd < 0) {
      s.call('close', home);
      return undefined;
    }
    const one = Uint8Array.of(1, 0, 0, 0);
    s.call('setsockopt', fd, SOL_NETLINK, NETLINK_EXT_ACK, s.ptr(one), 4);
    return new RtSocket(s, fd, home);
  }

  close(): void {
    this.s.call('close', this.fd);
    this.s.call('close', this.homeNsFd);
  }

  /** A request answered by an ACK (and, for a get, its reply before it). */
  talk(req: Request): Answer {
    return this.exchange(req, NLM_F_REQUEST | NLM_F_ACK, false);
  }

  /** A dump: every reply up to NLMSG_DONE. */
  dump(req: Request): Answer {
    return this.exchange(req, NLM_F_REQUEST | NLM_F_DUMP, true);
  }

  private exchange(req: Request, flags: number, dump: boolean): Answer {
    const seq = this.seq++;
    const out = req.bytes(seq, flags);
    if (this.s.call('sendto', this.fd, this.s.ptr(out), out.length, 0, 0, 0) !== out.length)
      throw new Error('Cannot talk to rtnetlink');
    const got: Reply[] = [];
    for (;;) {
      const n = this.s.call('recvfrom', this.fd, this.s.ptr(RX), RX.length, 0, 0, 0);
      if (n <= 0) throw new Error('Cannot read from rtnetlink');
      // The replies point into their datagram: each gets a copy of its own bytes, not of the whole buffer.
      const got1 = replies(RX.slice(0, n), n);
      for (const r of got1) {
        if (r.seq !== seq) continue;
        if (r.type === NLMSG_ERROR) return { ...errorOf(r), replies: got };
        if (r.type === NLMSG_DONE) return { errno: dump ? -(i32(r.body) ?? 0) : 0, replies: got };
        got.push(r);
      }
    }
  }
}

/** NLMSG_ERROR's errno (positive) and the extended ACK's message. */
function errorOf(r: Reply): { errno: number; message?: string } {
  const errno = -(i32(r.body) ?? 0);
  if (!(r.flags & NLM_F_ACK_TLVS) || r.body.length < 20) return { errno };
  const origLen = get32(r.body, 4) >>> 0;
  const skip = 4 + (r.flags & NLM_F_CAPPED ? 16 : (origLen + 3) & ~3);
  const message = ascii(attrs(r.body, skip).get(NLMSGERR_ATTR_MSG));
  return message ? { errno, message } : { errno };
}
