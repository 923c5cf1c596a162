import { spawn } from 'node:child_process';
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class AlreadyRunningError extends Error {}

/**
 * Take an exclusive flock(2) on `path` for the life of this process (released when it exits, even on
 * kill -9) and write our pid into it; refuse with a clear message when another process holds it.
 * flock(1) locks the open file description we pass as fd 3; it stays locked after flock(1) exits.
 */
export async function holdInstanceLock(path: string, what: string): Promise<() => void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('flock', ['--nonblock', '--exclusive', '3'], { stdio: ['ignore', 'ignore', 'ignore', fd] });
    child.on('error', reject);
    child.on('close', resolve);
  }).catch((e) => {
    closeSync(fd);
    throw e;
  });
  if (code !== 0) {
    closeSync(fd);
    const holder = readFileSync(path, 'utf8').trim();
    throw new AlreadyRunningError(
      `another cri-harness${holder ? ` (pid ${holder})` : ''} is already using ${what}; stop it first (lock ${path})`,
    );
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  return () => closeSync(fd);
}
