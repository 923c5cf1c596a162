import { CniError, ErrorCode } from '@tscni/cni';
import { PluginFailure } from '@tscni/libcni';
import { EnvironmentError } from './environment';
import { UsageError } from './argv';

export interface ErrorContext {
  verb?: string;
  network?: string;
  netConfPath: string;
  binDirs: string[];
}

export interface ErrorReport {
  code: number;
  msg: string;
  plugin?: string;
  hint?: string;
}

/** Turn any failure into one line of facts plus what to do about it. */
export function describeError(err: unknown, ctx: ErrorContext): ErrorReport {
  const msg = oneLine(err instanceof Error ? err.message : String(err));
  const code =
    err instanceof CniError
      ? err.code
      : err instanceof UsageError || err instanceof EnvironmentError
        ? ErrorCode.InvalidEnvironmentVariables
        : ErrorCode.Unknown;
  const plugin = err instanceof PluginFailure ? err.pluginType : undefined;
  return { code, msg, ...(plugin ? { plugin } : {}), ...withHint(hintFor(err, msg, code, plugin, ctx)) };
}

const withHint = (hint: string | undefined) => (hint ? { hint } : {});

function hintFor(
  err: unknown,
  msg: string,
  code: number,
  plugin: string | undefined,
  ctx: ErrorContext,
): string | undefined {
  if (err instanceof UsageError) return 'run tscni --help for the usage';
  if (err instanceof EnvironmentError) return undefined; // the message already says how to write it
  const path = `CNI_PATH (now ${ctx.binDirs.length ? JSON.stringify(ctx.binDirs.join(':')) : 'empty'})`;
  if (/failed to find plugin/.test(msg))
    return `install the "${plugin ?? 'plugin'}" binary into a directory of ${path}, or add its directory to CNI_PATH`;
  if (/no net configuration(s found| with name)/.test(msg))
    return `check NETCONFPATH (now ${JSON.stringify(ctx.netConfPath)}); "tscni ls" lists the networks it finds`;
  if (/^error parsing configuration|failed to parse plugin config|no plugin configs found/.test(msg))
    return `fix the network's config file in ${ctx.netConfPath}; "tscni validate" shows every problem`;
  if (code === ErrorCode.IncompatibleCNIVersion) {
    return `set the list's cniVersion to one that ${plugin ? `"${plugin}"` : 'every plugin'} supports; "${['tscni validate', ctx.network].filter(Boolean).join(' ')}" lists them`;
  }
  if (code === ErrorCode.TryAgainLater && /timed out/.test(msg))
    return 'the plugin hung: raise --timeout or look at what the plugin waits for';
  if (code === ErrorCode.TryAgainLater && /was aborted/.test(msg))
    return `interrupted: run it again, or "tscni del" to clean up a half-done ADD`;
  if (code === ErrorCode.TryAgainLater) return 'a transient failure: try again';
  if (code === ErrorCode.InvalidNetworkConfig && plugin) return `fix the "${plugin}" entry of network "${ctx.network}"`;
  if (code === ErrorCode.InvalidEnvironmentVariables)
    return 'check the container ID, CNI_IFNAME/--ifname and the netns path';
  if (code === ErrorCode.PluginNotAvailable || code === ErrorCode.LimitedConnectivity)
    return `"${plugin ?? 'a plugin'}" is not ready for ADD yet; retry once it reports ready`;
  return undefined;
}

/** One line: plugin messages sometimes carry newlines (Go panics, multi-line stderr). */
export const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' | ').trim();

export function formatErrorLine(report: ErrorReport, ctx: ErrorContext): string {
  const where = ['tscni', ctx.verb, ctx.network].filter(Boolean).join(' ');
  return `${where}: ${report.msg}${report.hint ? ` (to fix: ${report.hint})` : ''}`;
}
