import { join } from './paths';
import { CniError, ErrorCode } from './errors';
import { access, stat } from './files';

export interface PluginExecOptions {
  env: NodeJS.ProcessEnv;
  stdin: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Run the plugin through this command prefix, e.g. `['nsenter', '--net=/run/netns/x', '--']`. */
  wrapper?: readonly string[];
}

export interface PluginOutput {
  stdout: string;
  stderr: string;
}

/** `FindInPath`: the first `dir/type` that is a regular file; names with a path separator are refused. */
export function findInPath(type: string, dirs: readonly string[]): string {
  if (!type) throw new CniError(ErrorCode.InvalidNetworkConfig, 'plugin type is empty');
  if (type.includes('/') || type === '.' || type === '..')
    throw new CniError(ErrorCode.InvalidNetworkConfig, `invalid plugin name: ${type}`);
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, type);
    try {
      if (stat(candidate).isFile()) return candidate;
    } catch {
      /* keep looking */
    }
  }
  throw new CniError(ErrorCode.InvalidNetworkConfig, `failed to find plugin "${type}" in path [${dirs.join(' ')}]`);
}

export const pathDirs = (cniPath: string | undefined): string[] => (cniPath ?? '').split(':').filter(Boolean);

/**
 * Exec a plugin binary with the CNI env, config on stdin; resolve with stdout on success, throw the
 * plugin's CNI error (or one built from stderr) on failure. Retries "text file busy".
 */
export async function execPlugin(file: string, opts: PluginExecOptions): Promise<PluginOutput> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await execOnce(file, opts);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ETXTBSY' && attempt < 5) {
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        continue;
      }
      throw err;
    }
  }
}

function execOnce(file: string, opts: PluginExecOptions): Promise<PluginOutput> {
  return new Promise((resolve, reject) => {
    access(file);
    if (opts.signal?.aborted)
      return reject(new CniError(ErrorCode.TryAgainLater, `plugin ${file} was aborted before it started`));
    const [cmd, argv] = opts.wrapper?.length ? [opts.wrapper[0], [...opts.wrapper.slice(1), file]] : [file, []];
    // Loaded here, not at import: a plugin that imports delegation mostly runs its delegate in-process (embedded).
    const child = process
      .getBuiltinModule('node:child_process')
      .spawn(cmd, argv, { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    // Kill the plugin and stop waiting at once: a grandchild holding the pipes must not keep us here.
    const kill = (why: string) => {
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      finish(() =>
        reject(new CniError(ErrorCode.TryAgainLater, `plugin ${file} ${why}`, Buffer.concat(err).toString().trim())),
      );
    };
    const onAbort = () => kill('was aborted');
    const timer = opts.timeoutMs
      ? setTimeout(() => kill(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs)
      : undefined;
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ETXTBSY' || code === 'ENOENT') return finish(() => reject(e));
      finish(() => reject(new CniError(ErrorCode.Internal, `failed to exec ${file}: ${e.message}`)));
    });
    child.stdin.on('error', () => {
      /* the plugin may exit without reading stdin */
    });
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) return finish(() => resolve({ stdout, stderr }));
      if (signal)
        return finish(() =>
          reject(new CniError(ErrorCode.TryAgainLater, `plugin ${file} was killed by ${signal}`, stderr.trim())),
        );
      // Through a wrapper (nsenter) a busy binary shows up as the wrapper's exec failure.
      if (code === 126 && /text file busy/i.test(stderr))
        return finish(() => reject(Object.assign(new Error(stderr.trim()), { code: 'ETXTBSY' })));
      // The plugin's stderr travels with its error, for runtimes that log it.
      finish(() => reject(Object.assign(pluginError(stdout, stderr), { stderr })));
    });
    child.stdin.end(opts.stdin);
  });
}

/** The plugin's JSON error from stdout, else libcni's fallback `netplugin failed: "<stderr>"`. */
function pluginError(stdout: string, stderr: string): CniError {
  try {
    const e = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.code === 'number' && typeof e.msg === 'string') {
      return new CniError(e.code, e.msg, typeof e.details === 'string' ? e.details : '');
    }
  } catch {
    /* not JSON */
  }
  const text = (stderr.trim() || stdout.trim()).slice(0, 4096);
  return new CniError(ErrorCode.Internal, `netplugin failed: ${JSON.stringify(text)}`);
}
