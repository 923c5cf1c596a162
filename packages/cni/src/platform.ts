/**
 * The few process primitives on a plugin's hot path. Under Bun they use Bun's own APIs: its Node-compat
 * `process.stdout`/`process.stdin` streams and `node:child_process` each cost several milliseconds in a short-lived
 * process. Under Node (vitest, the harness, the shipped bundles) they are the plain Node calls. Nothing here runs at
 * import time beyond one lookup and no module is imported: spawning lives in platform-spawn.ts, so that VERSION loads
 * neither node:child_process nor node:fs.
 */

export interface BunSubprocess {
  /** With stdin 'pipe': Bun's FileSink. */
  stdin: { write(data: string): unknown; end(): unknown } | undefined;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<number>;
}
export interface BunApi {
  stdin: { text(): Promise<string> };
  stdout: unknown;
  stderr: unknown;
  write(dest: unknown, data: string): Promise<number>;
  file(path: string): { stat(): Promise<{ dev: number; ino: number }> };
  spawn(opts: {
    cmd: string[];
    stdin?: unknown;
    stdout?: 'pipe' | 'ignore';
    stderr?: 'pipe' | 'ignore';
    stdio?: unknown[];
  }): BunSubprocess;
  /** The native object behind `bun:ffi` (./sys reaches libc's `syscall` through it). */
  FFI?: BunFfi;
}
/** What ./sys uses of `Bun.FFI`: one library of two symbols, a buffer's address, an i32 read. */
export interface BunFfi {
  dlopen(
    path: string,
    symbols: { syscall: { args: string[]; returns: 'i64' }; __errno_location: { args: []; returns: 'ptr' } },
  ): { symbols: { syscall(...args: number[]): bigint; __errno_location(): number } };
  ptr(buf: Uint8Array): number;
  read: { i32(ptr: number, offset: number): number };
}
export const bun = (globalThis as { Bun?: BunApi }).Bun;

export const runtime: 'bun' | 'node' = bun ? 'bun' : 'node';

/** All of stdin as text. (node:fs is required only under Node: loading it costs a Bun VERSION call ~2 ms.) */
export const readStdin = (): Promise<string> =>
  bun ? bun.stdin.text() : Promise.resolve((require('node:fs') as typeof import('node:fs')).readFileSync(0, 'utf8'));

/** Write to stdout / stderr; resolves once written (set the exit code after). */
export async function writeOutput(stdout: string, stderr = ''): Promise<void> {
  if (bun) {
    if (stderr) await bun.write(bun.stderr, stderr);
    if (stdout) await bun.write(bun.stdout, stdout);
    return;
  }
  if (stderr) process.stderr.write(stderr);
  if (stdout) process.stdout.write(stdout);
}
