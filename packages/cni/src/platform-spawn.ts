/**
 * Spawning a tool from a plugin: `Bun.spawn` under Bun, `node:child_process` under Node (see platform.ts). The Node
 * module is loaded on the first spawn under Node only: under Bun, evaluating its Node-compat child_process costs a
 * call time and buys nothing.
 */
import { bun } from './platform';

export interface Spawned {
  /** null when the program could not be started (`error` says why). */
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

/** Run `file argv…` to its end with `input` on stdin (and, optionally, `fd3` as its fd 3); never throws. */
export function spawnCollect(file: string, argv: readonly string[], input?: string, fd3?: number): Promise<Spawned> {
  if (bun) {
    try {
      // stdin through a pipe, not as bytes: Bun hands bytes over in a memfd that a long-lived process (the dhcp
      // daemon) keeps open until garbage collection.
      const stdin = input === undefined ? 'ignore' : 'pipe';
      const p = bun.spawn(
        fd3 === undefined
          ? { cmd: [file, ...argv], stdin, stdout: 'pipe', stderr: 'pipe' }
          : { cmd: [file, ...argv], stdio: [stdin, 'pipe', 'pipe', fd3] },
      );
      if (input !== undefined) {
        // A tool that exits before reading its input (`ip -n` of a namespace that is gone) closes the pipe: the write
        // fails with EPIPE, synchronously or not. Its exit status and stderr are the answer, as under Node.
        for (const step of [() => p.stdin!.write(input), () => p.stdin!.end()])
          try {
            void Promise.resolve(step()).catch(() => {});
          } catch {
            /* EPIPE: see above */
          }
      }
      return Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]).then(
        ([stdout, stderr, code]) => ({ code, stdout, stderr }),
      );
    } catch (e) {
      return Promise.resolve({ code: null, stdout: '', stderr: '', error: (e as Error).message });
    }
  }
  return new Promise((resolve) => {
    const stdio: ('ignore' | 'pipe' | number)[] = [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'];
    if (fd3 !== undefined) stdio.push(fd3);
    const child = process.getBuiltinModule('node:child_process').spawn(file, argv, { stdio });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => resolve({ code: null, stdout: '', stderr: '', error: e.message }));
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    if (input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}
