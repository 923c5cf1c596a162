import { openFd } from './rtnetlink/socket';
import { sys } from '@tscni/cni/sys';

let home: string | undefined;

/**
 * This process's own network namespace as a path another process can open: where `ip … netns <path>` puts a veth's
 * host end, where host-device sends a device back. `netns <pid>` and `/proc/<pid>/ns/net` would name whatever
 * namespace the main thread is in when that process resolves them — and under Bun the main thread enters a pod for
 * an instant (in-process sysctls, rtnetlink sockets), while in the CRI harness another call's `ip` may be running.
 * A descriptor opened on this namespace once, named as `/proc/<pid>/fd/<fd>`, keeps naming it. Where no descriptor
 * can be opened here (Node: its thread never leaves), `/proc/<pid>/ns/net`.
 */
export function homeNetnsPath(): string {
  if (home === undefined) {
    const s = sys();
    const fd = s ? openFd(s, '/proc/thread-self/ns/net') : -1;
    home = fd >= 0 ? `/proc/${process.pid}/fd/${fd}` : `/proc/${process.pid}/ns/net`;
  }
  return home;
}
