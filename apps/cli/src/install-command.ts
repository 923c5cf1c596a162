import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from './argv';
import type { Context, Output } from './commands';
import { formatActions, install } from './install/install';

/**
 * `install [--dir DIR] [--plugins a,b] [--runtime node|bun] [--resident] [--force]` (or `install <dir> [<plugin>...]`):
 * copy the Bun executable once and hard-link each plugin name to it (or, with `--runtime node`, copy the Node bundles)
 * into a CNI bin dir, atomically, refusing files that are not ours unless --force. `--standalone` is `--runtime bun`.
 * `--resident` installs the resident build (docs/resident.md): `tscni-shim` beside the Bun executable, the plugins
 * tscni-plugind runs linked to the shim.
 */
export async function installCommand(ctx: Context): Promise<Output> {
  const [positionalDir, ...positionalPlugins] = ctx.args.positional;
  const dir = ctx.args.dir ?? positionalDir ?? '/opt/cni/bin';
  const plugins = [...ctx.args.plugins, ...(ctx.args.dir ? ctx.args.positional : positionalPlugins)];
  if (!dir.startsWith('/')) throw new UsageError(`install wants an absolute directory, got ${JSON.stringify(dir)}`);
  const resident = ctx.args.resident;
  if (resident && ctx.args.runtime === 'node')
    throw new UsageError('--resident installs the Bun executable and its shim: it does not go with --runtime node');
  // This file is dist/bin/tscni: the Node bundles are in dist/cni-bin, the Bun executable and its links in
  // dist/bun/cni-bin, the resident build (the shim, links to it and to the Bun executable) in dist/bun/cni-resident.
  const dist = join(dirname(realpathSync(process.argv[1] ?? process.execPath)), '..');
  const runtime = resident ? 'bun' : (ctx.args.runtime ?? defaultRuntime());
  const build = resident ? 'bun/cni-resident' : runtime === 'bun' ? 'bun/cni-bin' : 'cni-bin';
  const from = ctx.args.from ?? join(dist, build);
  const actions = install({ dir, plugins, from, force: ctx.args.force, resident });
  const refused = actions.some((a) => a.action === 'refused');
  if (ctx.args.json) return { stdout: [JSON.stringify(actions)], exitCode: refused ? 1 : 0 };
  return { stdout: [formatActions(actions)], exitCode: refused ? 1 : 0 };
}

/** The build's default (tools/plugin-runtime.mjs, baked in by tools/bundle.mjs); node when run unbundled. */
function defaultRuntime(): 'node' | 'bun' {
  return process.env.TSCNI_DEFAULT_PLUGIN_RUNTIME === 'bun' ? 'bun' : 'node';
}
