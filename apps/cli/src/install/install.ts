import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ourBuildName } from '@tscni/cni';

export const MULTICALL_NAME = 'tscni-cni';

export interface InstallOptions {
  /** Target directory, e.g. /opt/cni/bin. */
  dir: string;
  /** Plugin types to install; all available when empty. */
  plugins?: string[];
  /** Replace files that are not tscni's. */
  force?: boolean;
  /**
   * Where the plugins are: the Bun build (dist/bun/cni-bin: the multi-call executable `tscni-cni`, installed once
   * with every plugin name hard-linked to it) or the Node bundles (dist/cni-bin, each copied).
   */
  from: string;
}

export interface InstallAction {
  name: string;
  path: string;
  action: 'installed' | 'replaced' | 'unchanged' | 'refused';
  note?: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9-]*$/;

/**
 * Install plugins atomically: every file is written (or linked) under a temporary name in the target
 * directory and renamed into place, so a kubelet never execs a half-written file. A file that is not
 * ours is left alone unless `force`.
 */
export function install(opts: InstallOptions): InstallAction[] {
  if (!existsSync(opts.from)) throw new Error(`no plugins at ${opts.from}: build them with npx nx run-many -t build`);
  mkdirSync(opts.dir, { recursive: true, mode: 0o755 });
  const multicallBuild = existsSync(join(opts.from, MULTICALL_NAME));
  const available = multicallBuild ? multicallNames(opts.from) : bundledNames(opts.from);
  const wanted = opts.plugins?.length ? opts.plugins : available;
  for (const name of wanted) {
    if (!NAME_RE.test(name)) throw new Error(`invalid plugin name ${JSON.stringify(name)}`);
    if (!available.includes(name)) throw new Error(`unknown plugin "${name}": available are ${available.join(', ')}`);
  }
  const actions: InstallAction[] = [];
  let multicall: string | undefined;
  if (multicallBuild) {
    multicall = join(opts.dir, MULTICALL_NAME);
    const sourceFile = join(opts.from, MULTICALL_NAME);
    if (existsSync(multicall) && sameFile(multicall, sourceFile))
      actions.push({ name: MULTICALL_NAME, path: multicall, action: 'unchanged' });
    else {
      const existed = existsSync(multicall);
      atomicCopy(sourceFile, multicall);
      actions.push({ name: MULTICALL_NAME, path: multicall, action: existed ? 'replaced' : 'installed' });
    }
  }
  for (const name of wanted) {
    const target = join(opts.dir, name);
    const existed = existsSync(target) || isSymlink(target);
    if (existed && !isOurs(target, opts.dir) && !opts.force) {
      actions.push({ name, path: target, action: 'refused', note: 'not a tscni binary; use --force to replace it' });
      continue;
    }
    if (multicall) {
      if (existed && sameFile(target, multicall)) {
        actions.push({ name, path: target, action: 'unchanged' });
        continue;
      }
      atomicLink(multicall, target);
    } else atomicCopy(join(opts.from, name), target);
    // kube-flannel's init container runs `cp -f /flannel /opt/cni/bin/flannel`, which writes through a link
    // into the one file every plugin name shares (docs/flannel.md).
    const note =
      multicall && name === 'flannel'
        ? "a link: remove kube-flannel's install-cni-plugin init container, its cp -f would overwrite every plugin"
        : undefined;
    actions.push({ name, path: target, action: existed ? 'replaced' : 'installed', ...(note ? { note } : {}) });
  }
  return actions;
}

function bundledNames(from: string): string[] {
  return readdirSync(from).filter(
    (f) => NAME_RE.test(f) && statSync(join(from, f)).isFile() && ourBuildName(join(from, f)) === f,
  );
}

/** The plugins the Bun executable serves: its links beside it name themselves (ourBuildName reads the list it carries). */
function multicallNames(from: string): string[] {
  const linked = bundledNames(from);
  if (!linked.length)
    throw new Error(`no plugin links beside ${join(from, MULTICALL_NAME)}: build it with npx nx run cni-bun:build`);
  return linked;
}

/** Ours: a bundle carrying the `// tscni:<name>` marker, a link to the multi-call executable, or the Bun build under a plugin's name. */
function isOurs(path: string, dir: string): boolean {
  const multicall = join(dir, MULTICALL_NAME);
  if (existsSync(multicall) && sameFile(path, multicall)) return true;
  return ourBuildName(path) === basename(path);
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

const isSymlink = (p: string): boolean => {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
};

const tempName = (target: string) => join(dirname(target), `.${basename(target)}.tscni-tmp-${process.pid}`);

function atomicCopy(src: string, target: string): void {
  const tmp = tempName(target);
  rmSync(tmp, { force: true });
  copyFileSync(src, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
}

function atomicLink(src: string, target: string): void {
  const tmp = tempName(target);
  rmSync(tmp, { force: true });
  linkSync(src, tmp);
  renameSync(tmp, target);
}

export function formatActions(actions: InstallAction[]): string {
  return actions.map((a) => `${a.action.padEnd(9)} ${a.path}${a.note ? ` (${a.note})` : ''}`).join('\n');
}
