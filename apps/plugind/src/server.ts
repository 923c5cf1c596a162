import { createServer, type Server } from 'node:net';
import { dispatch, printedOutcome, thrownOutcome } from '@tscni/cni';
import type { InProcessPlugin } from '@tscni/libcni';
import { declineReason, type Home } from './admission';
import { declineAnswer, parseRequest, runAnswer } from './protocol';

/** A request larger than this is declined unread (a CNI config is kilobytes; the shim's fallback still runs it). */
const MAX_REQUEST = 16 << 20;

/**
 * The daemon's socket server: each connection is one plugin call. A call the daemon takes runs through the skeleton's
 * `dispatch` with the request's `CNI_*` variables over the daemon's own environment, as the CRI harness runs its
 * in-process plugins; calls run side by side and share nothing but code.
 */
export function plugindServer(
  home: Home,
  load: (plugin: string) => Promise<InProcessPlugin>,
  log: (msg: string) => void,
  verbose = false,
): Server {
  const baseEnv = withoutCniVars(process.env);
  const logged = new Set<string>();
  const decline = (reason: string): Uint8Array => {
    // Once per reason: a plugin the daemon does not run is declined on every call, by design.
    if (!logged.has(reason) && !reason.endsWith('is not run in-process')) {
      logged.add(reason);
      log(`declined: ${reason}`);
    }
    return declineAnswer(reason);
  };

  const answer = async (bytes: Uint8Array): Promise<Uint8Array> => {
    const req = parseRequest(bytes);
    if (typeof req === 'string') return decline(req);
    const reason = declineReason(req, home);
    if (reason) return decline(reason);
    let plugin: InProcessPlugin;
    try {
      plugin = await load(req.plugin);
    } catch (e) {
      return decline(`${req.plugin} failed to load: ${(e as Error).message}`);
    }
    const env = { ...baseEnv, ...cniVars(req.env) };
    const started = performance.now();
    const o = await dispatch(plugin.funcs, plugin.info ?? {}, env, () => req.stdin).then(printedOutcome, thrownOutcome);
    if (verbose) {
      const call = `${env.CNI_COMMAND ?? '?'} ${req.plugin} ${env.CNI_CONTAINERID ?? '-'}/${env.CNI_IFNAME ?? '-'}`;
      log(`${call}: exit ${o.exitCode} in ${(performance.now() - started).toFixed(1)} ms`);
    }
    return runAnswer(o.exitCode, o.stdout, o.stderr);
  };

  // allowHalfOpen: the shim shuts down its writing side to end the request, and waits for the answer.
  return createServer({ allowHalfOpen: true }, (conn) => {
    const chunks: Buffer[] = [];
    let size = 0;
    conn.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST) chunks.push(chunk);
      else if (size - chunk.length <= MAX_REQUEST) conn.end(decline(`request over ${MAX_REQUEST} bytes`));
    });
    conn.on('end', () => {
      if (size > MAX_REQUEST) return;
      answer(Buffer.concat(chunks)).then(
        (frame) => conn.end(frame),
        // A bug of the daemon's own: no answer at all, which the shim reports as a failed call (code 11) and never
        // runs again itself, since it cannot know how far the call got.
        (e: unknown) => {
          log(`internal error: ${(e as Error)?.stack ?? String(e)}`);
          conn.destroy();
        },
      );
    });
    // The shim died or was killed: the call's work, if any, finishes here and is left to the runtime's DEL.
    conn.on('error', () => {});
  });
}

const withoutCniVars = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CNI_')));

const cniVars = (env: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('CNI_')));
