import { CniError } from './errors';
import { stat } from './files';
import { ourBuildName } from './our-build';
import { dispatch, type PluginFuncs } from './skel';

/**
 * Delegates a plugin carries inside its own bundle (bridge carries host-local, say). When the delegate
 * that CNI_PATH resolves to is that same tscni plugin — a bundle with our marker line, or a link to the
 * multi-call executable we are running from — it runs in-process through the same skeleton instead of
 * paying for a second Node.js start. Anything else (the reference binary, a newer build elsewhere) is
 * exec'd as the spec says.
 */
const embedded = new Map<string, () => PluginFuncs>();

/** Register a delegate this bundle embeds; `load` runs only when the delegate is actually used. */
export function embedDelegate(type: string, load: () => PluginFuncs): void {
  embedded.set(type, load);
}

/** The embedded implementation of `type` if `file` is our own build of it, else undefined. */
export function embeddedDelegateFor(type: string, file: string): PluginFuncs | undefined {
  const load = embedded.get(type);
  if (!load || process.env.TSCNI_NO_EMBEDDED_DELEGATES === '1') return undefined;
  return isOurBuildOf(type, file) ? load() : undefined;
}

function isOurBuildOf(type: string, file: string): boolean {
  try {
    const target = stat(file);
    const self = stat(process.execPath);
    if (target.ino === self.ino && target.dev === self.dev) return true; // the multi-call executable
  } catch {
    return false;
  }
  return ourBuildName(file) === type;
}

/** Run an embedded delegate exactly as its executable would: same env, config on "stdin", same output. */
export async function runEmbedded(funcs: PluginFuncs, env: NodeJS.ProcessEnv, stdin: string): Promise<string> {
  const outcome = await dispatch(funcs, {}, env, () => stdin);
  if (outcome.exitCode === 0) return outcome.stdout;
  const e = JSON.parse(outcome.stdout) as { code: number; msg: string; details?: string };
  throw new CniError(e.code, e.msg, e.details ?? '');
}
