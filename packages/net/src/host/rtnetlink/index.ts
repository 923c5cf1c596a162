import { CommandError } from '../command-error';
import { inNetns } from '../in-netns';
import { setIpInProcess, type RunOptions, type RunResult } from '../runner';
import { parseInvocation, type Invocation } from './commands';
import { IpFailure, strerror } from './errors';
import { runCommand, UNSURE } from './run';
import { RtSocket } from './socket';

const ENOENT = 2;

/** How the rest of a batch reaches the real `ip` (the runner's own spawning). */
export type SpawnIp = (args: readonly string[], opts: RunOptions) => Promise<RunResult>;

/**
 * `ip <args>` done in this process over rtnetlink, with what `ip` would print and exit with; undefined when it must
 * run as a process (then nothing has been done). In-process only under Bun (a plugin's executable, the CRI
 * harness), on an architecture `./sys` knows, for an invocation inside the subset of `./commands`,
 * and with a socket in the namespace. A read whose output is not rendered exactly here hands it and the rest of the
 * batch to `ip` (`spawn`), after the commands before it ran here: `ip -batch` runs them in order all the same.
 * An invocation outside the subset is declined at once (undefined, not a promise), so its `ip` starts as early as it
 * always did: a veth's deletion, the longest step of a DEL, must not wait behind the steps started beside it.
 */
export function ipInProcess(
  args: readonly string[],
  opts: RunOptions,
  spawn: SpawnIp,
): Promise<RunResult | undefined> | undefined {
  const inv = parseInvocation(args, opts.input);
  if (!inv) return undefined;
  if (!blockingInProcess && inv.commands.some((c) => c.op === 'link-del')) return undefined;
  return runHere(inv, args, opts, spawn);
}

async function runHere(
  inv: Invocation,
  args: readonly string[],
  opts: RunOptions,
  spawn: SpawnIp,
): Promise<RunResult | undefined> {
  // The kernel answers within sendto, so the work below holds this thread: let the steps started beside this one
  // (a DEL's IPAM release, its iptables-restore) reach their own processes first.
  await undefined;
  const sock = RtSocket.open(opts.netns);
  if (!sock) return undefined;
  if (!(sock instanceof RtSocket)) {
    // What `ip -n NAME` or `nsenter --net=PATH` says of a namespace that is gone (a DEL's usual case); else ask them.
    if (sock.nsErrno !== ENOENT) return undefined;
    const [tool, argv] = inNetns(opts.netns, 'ip', args);
    const pinned = tool === 'ip' && argv[0] === '-n' ? argv[1] : undefined;
    const said = pinned
      ? `Cannot open network namespace "${pinned}": ${strerror(ENOENT)}`
      : `nsenter: cannot open ${opts.netns}: ${strerror(ENOENT)}`;
    throw new CommandError('ip', args, pinned ? 255 : 1, `${said}\n`);
  }
  let stdout = '';
  let n = 0;
  try {
    for (; n < inv.commands.length; n++) {
      // `link show` leaves ip's preferred family at AF_PACKET for the rest of a batch (an `addr show` after it
      // prints no addresses, an `addr add` fails to parse): one that is not last goes to ip with what follows.
      // (Link reads after it are unaffected: they set that family themselves.)
      if (inv.commands[n].op === 'link-show' && !onlyLinkReadsFrom(inv, n + 1)) break;
      const out = runCommand(sock, inv.commands[n], inv.details);
      if (out === UNSURE) break;
      stdout += out;
    }
  } catch (err) {
    if (!(err instanceof IpFailure)) throw err;
    const trailer = inv.batch ? `Command failed -:${n + 1}\n` : '';
    throw new CommandError('ip', args, inv.batch ? 1 : err.exitCode, `${err.message}\n${trailer}`, stdout);
  } finally {
    sock.close();
  }
  if (n === inv.commands.length) return { stdout, stderr: '' };
  if (n === 0) return undefined;
  // The rest from the first command not rendered here, by `ip` itself; its line numbers moved by `n`.
  const flags = [...(inv.json ? ['-j'] : []), ...(inv.details ? ['-d'] : [])];
  const rest = inv.lines
    .slice(n)
    .map((w) => w.join(' ') + '\n')
    .join('');
  try {
    const r = await spawn([...flags, '-batch', '-'], { ...opts, input: rest });
    return { stdout: stdout + r.stdout, stderr: r.stderr };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    const stderr = err.stderr.replace(
      /^Command failed -:(\d+)$/m,
      (_, k: string) => `Command failed -:${Number(k) + n}`,
    );
    throw new CommandError('ip', args, err.exitCode, stderr, stdout + err.stdout);
  }
}

/** Whether the commands from `from` on are all link reads (`link show [dev X]`). */
function onlyLinkReadsFrom(inv: Invocation, from: number): boolean {
  for (let i = from; i < inv.commands.length; i++) {
    const op = inv.commands[i].op;
    if (op !== 'link-show' && op !== 'links-show') return false;
  }
  return true;
}

let blockingInProcess = true;

/**
 * For a process that serves many calls at once (the CRI harness): a `link del` runs as an `ip` process. The kernel
 * holds a veth's deletion for RCU grace periods (15–35 ms measured here) inside the request, which in-process would
 * stop the event loop, and with it every other pod's work, for that long. A one-call plugin has nothing else to run.
 */
export function deleteLinksOutOfProcess(): void {
  blockingInProcess = false;
}

/**
 * The plugins whose `ip` commands are in the subset call this when their module loads (loopback, bridge, ptp;
 * bandwidth and portmap at their first `ip` command, through ../ip-on-demand): from then on the runner asks
 * `ipInProcess` first (also in the CRI harness, which loads the same modules). A command in a pod enters it with the
 * main thread for a moment, so nothing may name this process's namespace through the main thread meanwhile: other
 * processes get `homeNetnsPath()`, the skeleton's own-netns check reads `/proc/thread-self/ns/net`.
 */
export function useIpInProcess(): void {
  setIpInProcess(ipInProcess);
}
