import { mkdirp, readDir, removeFile, rename, writeText } from '@tscni/cni/files';
import { basename, dirname, join } from '@tscni/cni/paths';

/**
 * A plugin's small state files (tuning's link backup, …), written atomically: `<file>.tmp-<pid>`, then rename, so a
 * crash never leaves half a file. A SIGKILL between the two leaves the temp file: removeStateFile, which DEL calls,
 * also removes the temp files of writers that are no longer alive.
 */
export function writeStateFile(file: string, data: string): void {
  mkdirp(dirname(file), 0o700);
  const tmp = `${file}.tmp-${process.pid}`;
  writeText(tmp, data, 0o600);
  rename(tmp, file);
}

export function removeStateFile(file: string): void {
  removeFile(file);
  const prefix = `${basename(file)}.tmp-`;
  let names: string[];
  try {
    names = readDir(dirname(file)).filter((n) => n.startsWith(prefix));
  } catch {
    return; // no directory, nothing left over
  }
  for (const name of names) {
    const pid = Number(name.slice(prefix.length));
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) removeFile(join(dirname(file), name));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
