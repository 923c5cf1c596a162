import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ourBuildName } from '@tscni/cni';
// Only the names: the plugins themselves stay out of the CLI's bundle.
import { IN_PROCESS_NAMES } from '@tscni/in-process-plugins/names';

export const MULTICALL_NAME = 'tscni-cni';
/** Resident mode's relay (docs/resident.md): the plugin names the daemon runs in-process are links to it. */
export const SHIM_NAME = 'tscni-shim';
const IN_PROCESS: ReadonlySet<string> = new Set(IN_PROCESS_NAMES);

export interface InstallOptions {
  /** Target directory, e.g. /opt/cni/bin. */
  dir: string;
  /** Plugin types to install; all available when empty. */
  plugins?: string[];
  /** Replace files that are not tscni's. */
  force?: boolean;
  /**
   * Where the plugins are: the Bun build (dist/bun/cni-bin: the multi-call executable `tscni-cni`, installed once
   * with every plugin name hard-linked to it), the resident build (dist/bun/cni-resident: `tscni-shim` beside
   * `tscni-cni`, with `resident`) or the Node bundles (dist/cni-bin, each copied).
   */
  from: string;
  /**
   * Resident mode (docs/resident.md): `tscni-shim` is copied once too, and the plugins tscni-plugind runs in-process
   * are hard-linked to it instead of to `tscni-cni` (the shim of any other plugin would only add a declined call).
   */
  resident?: boolean;
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
  const multicallBuild = existsSync(join(opts.from, MULTICALL_NAME));
  if (opts.resident && !(multicallBuild && existsSync(join(opts.from, SHIM_NAME))))
    throw new Error(
      `no resident build at ${opts.from} (${SHIM_NAME} beside ${MULTICALL_NAME}): build it with npx nx run-many -t build`,
    );
  mkdirSync(opts.dir, { recursive: true, mode: 0o755 });
  const available = multicallBuild ? multicallNames(opts.from) : bundledNames(opts.from);
  const wanted = opts.plugins?.length ? opts.plugins : available;
  for (const name of wanted) {
    if (!NAME_RE.test(name)) throw new Error(`invalid plugin name ${JSON.stringify(name)}`);
    if (!available.includes(name)) throw new Error(`unknown plugin "${name}": available are ${available.join(', ')}`);
  }
  const actions: InstallAction[] = [];
  const multicall = multicallBuild ? join(opts.dir, MULTICALL_NAME) : undefined;
  const shim = join(opts.dir, SHIM_NAME);
  if (multicall) {
    const action = copyOnce(join(opts.from, MULTICALL_NAME), multicall);
    // The daemon takes a call only for the file it was started from (docs/resident.md): until it is restarted, the
    // shims run every call from the new one.
    const note =
      opts.resident && action === 'replaced'
        ? `restart tscni-plugind (${multicall} serve) to run the new plugins in-process`
        : undefined;
    actions.push({ name: MULTICALL_NAME, path: multicall, action, ...(note ? { note } : {}) });
  }
  if (opts.resident)
    actions.push({
      name: SHIM_NAME,
      path: shim,
      action: copyOnce(join(opts.from, SHIM_NAME), shim),
      note: `run the daemon: ${multicall} serve; its systemd unit: docs/resident.md, "Install"`,
    });
  for (const name of wanted) {
    const target = join(opts.dir, name);
    const existed = existsSync(target) || isSymlink(target);
    if (existed && !isOurs(target, opts.dir) && !opts.force) {
      actions.push({ name, path: target, action: 'refused', note: 'not a tscni binary; use --force to replace it' });
      continue;
    }
    const linkTo = opts.resident && IN_PROCESS.has(name) ? shim : multicall;
    if (linkTo) {
      if (existed && sameFile(target, linkTo)) {
        actions.push({ name, path: target, action: 'unchanged' });
        continue;
      }
      atomicLink(linkTo, target);
    } else atomicCopy(join(opts.from, name), target);
    // kube-flannel's init container runs `cp -f /flannel /opt/cni/bin/flannel`, which writes through a link
    // into the one file every plugin name shares (docs/flannel.md).
    const note =
      multicall && name === 'flannel'
        ? "a link: remove kube-flannel's install-cni-plugin init container, its cp -f would overwrite every plugin"
        : undefined;
    actions.push({ name, path: target, action: existed ? 'replaced' : 'installed', ...(note ? { note } : {}) });
  }
  // A plain install after a resident one removes nothing: the shim stays, unused once no plugin name links to it.
  if (!opts.resident && existsSync(shim)) {
    const links = statSync(shim).nlink - 1;
    actions.splice(multicall ? 1 : 0, 0, {
      name: SHIM_NAME,
      path: shim,
      action: 'unchanged',
      note: links
        ? `left in place: resident mode's shim, ${links} other name(s) still linked to it`
        : "left in place: resident mode's shim, no plugin is linked to it now; rm it if you like",
    });
  }
  return actions;
}

/**
 * Copy a file the plugin names link to (`tscni-cni`, `tscni-shim`), unless the target already holds the same bytes:
 * a re-run changes nothing, so the links stay and a running tscni-plugind keeps taking calls for the file it runs.
 */
function copyOnce(src: string, target: string): InstallAction['action'] {
  const existed = existsSync(target);
  if (existed && sameContent(src, target)) return 'unchanged';
  atomicCopy(src, target);
  return existed ? 'replaced' : 'installed';
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

/**
 * Ours: a bundle carrying the `// tscni:<name>` marker, a link to the multi-call executable or to the shim, or either
 * of them under a plugin's name (both carry the `// tscni-multicall:` list of the names they serve).
 */
function isOurs(path: string, dir: string): boolean {
  if ([MULTICALL_NAME, SHIM_NAME].some((f) => sameFile(path, join(dir, f)))) return true;
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

/** The same bytes (both regular files; a 110 MB executable is compared in 1 MB reads). */
function sameContent(a: string, b: string): boolean {
  let fa: number | undefined;
  let fb: number | undefined;
  try {
    const [x, y] = [statSync(a), statSync(b)];
    if (!x.isFile() || !y.isFile() || x.size !== y.size) return false;
    fa = openSync(a, 'r');
    fb = openSync(b, 'r');
    const [bufA, bufB] = [Buffer.alloc(1 << 20), Buffer.alloc(1 << 20)];
    for (let pos = 0; pos < x.size;) {
      const n = readSync(fa, bufA, 0, bufA.length, pos);
      if (n === 0 || readSync(fb, bufB, 0, n, pos) !== n || !bufA.subarray(0, n).equals(bufB.subarray(0, n)))
        return false;
      pos += n;
    }
    return true;
  } catch {
    return false;
  } finally {
    if (fa !== undefined) closeSync(fa);
    if (fb !== undefined) closeSync(fb);
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
