import {
  CniError,
  dispatch,
  ErrorCode,
  ourBuildName,
  printedOutcome,
  thrownOutcome,
  type Outcome,
  type PluginFuncs,
  type PluginInfo,
  type PluginOutput,
} from '@tscni/cni';
import { defaultExec, type PluginExec } from './exec';

/** One of our plugins as its executable runs it: the verb functions and what its `main.ts` passes to the skeleton. */
export interface InProcessPlugin {
  funcs: PluginFuncs;
  info?: PluginInfo;
}

/** Our plugins by bundle name (the `// tscni:<name>` marker); a loader runs only when that plugin is first called. */
export type InProcessPlugins = Readonly<Record<string, () => InProcessPlugin | Promise<InProcessPlugin>>>;

/**
 * A `PluginExec` that calls our own plugins in this process instead of exec'ing them: when the binary
 * found on CNI_PATH is one of our bundles (its marker line names a plugin in `plugins`), the skeleton's
 * `dispatch` gets the same env and stdin bytes the executable would, and its outcome becomes the same
 * stdout or the same CniError (code, msg, details, stderr) the exec path produces. Anything else — another
 * vendor's binary, a plugin not in `plugins`, or a call through a wrapper (`execInNetns`: this process
 * cannot enter another namespace) — goes to `fallback`. The result cache is libcni's either way.
 *
 * Nothing is shared between calls but the plugins' code: the env is a copy per call, the skeleton never
 * touches process.env, stdout or the exit code. A timeout or abort fails the call with the exec path's
 * error at once; the plugin's own work cannot be killed and finishes in the background, as a plugin
 * killed mid-way leaves what it did to DEL.
 */
export function inProcessExec(plugins: InProcessPlugins, fallback: PluginExec = defaultExec): PluginExec {
  const load = pluginLoader(plugins);
  return async (file, opts) => {
    const name = opts.wrapper?.length ? undefined : ourBuildName(file);
    if (!name || !Object.hasOwn(plugins, name)) return fallback(file, opts);
    if (opts.signal?.aborted)
      throw new CniError(ErrorCode.TryAgainLater, `plugin ${file} was aborted before it started`);
    const run = load(name)
      .then(({ funcs, info }) => dispatch(funcs, info ?? {}, { ...opts.env }, () => opts.stdin))
      .then(printedOutcome, thrownOutcome);
    return toOutput(await bounded(file, run, opts.timeoutMs, opts.signal));
  };
}

/** Loads each plugin of `plugins` once, on its first call (a loader that failed is tried again next time). */
export function pluginLoader(plugins: InProcessPlugins): (name: string) => Promise<InProcessPlugin> {
  const loaded = new Map<string, Promise<InProcessPlugin>>();
  return (name) => {
    let p = loaded.get(name);
    if (!p) {
      p = Promise.resolve().then(plugins[name]);
      p.catch(() => loaded.delete(name));
      loaded.set(name, p);
    }
    return p;
  };
}

/** The outcome `run` settles with, unless the call times out or is aborted first (then the exec path's error). */
async function bounded(
  file: string,
  run: Promise<Outcome>,
  timeoutMs?: number,
  signal?: AbortSignal,
): Promise<Outcome> {
  if (!timeoutMs && !signal) return run;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    if (timeoutMs)
      timer = setTimeout(
        () => reject(new CniError(ErrorCode.TryAgainLater, `plugin ${file} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    onAbort = () => reject(new CniError(ErrorCode.TryAgainLater, `plugin ${file} was aborted`));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([run, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** What the executable printed and exited with (`pluginMain`'s outcome), read back as the exec path reads it. */
function toOutput(o: Outcome): PluginOutput {
  if (o.exitCode === 0) return { stdout: o.stdout, stderr: o.stderr };
  const e = JSON.parse(o.stdout) as { code: number; msg: string; details?: unknown };
  const err = new CniError(e.code, e.msg, typeof e.details === 'string' ? e.details : '');
  throw Object.assign(err, { stderr: o.stderr });
}
