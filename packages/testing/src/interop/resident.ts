/**
 * Resident mode (docs/resident.md) under a real runtime: tscni-plugind started in a RuntimeNode's network and mount
 * namespaces — where the runtime runs its plugins; the daemon declines calls from any other — with its socket in the
 * node's tmp dir, which the shims find through TSCNI_PLUGIND_SOCKET in the environment the runtime passes on to them.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { PlugindProcess, plugindSettings } from '../plugind';
import type { RuntimeNode } from './node';

export interface NodePlugind {
  daemon: PlugindProcess;
  /** The runtime's environment: the one given, plus TSCNI_PLUGIND_SOCKET. */
  env: NodeJS.ProcessEnv;
}

/**
 * Start `tscni-cni serve --verbose` from the plugin dir `bin` in the node and wait until it serves. Its `TSCNI_*`
 * settings are those of `runtimeEnv` (the plugins' own: the daemon takes a call only when they match).
 */
export async function startNodePlugind(
  node: RuntimeNode,
  bin: string,
  runtimeEnv: NodeJS.ProcessEnv,
): Promise<NodePlugind> {
  const socket = join(node.tmp, 'plugind.sock');
  const daemon = await PlugindProcess.start({
    socket,
    target: node.pid,
    exe: join(bin, 'tscni-cni'),
    env: plugindSettings(runtimeEnv),
    args: ['--verbose'],
  });
  if (!daemon.running) throw new Error(`tscni-plugind exited before serving: ${daemon.stderr}`);
  return { daemon, env: { ...runtimeEnv, TSCNI_PLUGIND_SOCKET: socket } };
}

/** The calls the daemon ran, from its --verbose log: `<VERB> <plugin> <container id>/<ifname>: exit <code>`. */
export function plugindCalls(daemon: PlugindProcess): string[] {
  return daemon.logs.flatMap((l) => /^(\S+ \S+ \S+: exit \d+) in /.exec(l)?.[1] ?? []);
}

/**
 * Assert that the daemon ran every call of `wanted` (as `plugindCalls` writes them), declined nothing and logged no
 * internal error. Its log reaches this process through a pipe: the event loop gets a moment after the runtime's
 * synchronous commands. Returns every call it ran.
 */
export async function expectPlugindRan(daemon: PlugindProcess, wanted: string[]): Promise<string[]> {
  for (let i = 0; i < 100 && !wanted.every((c) => plugindCalls(daemon).includes(c)); i++)
    await new Promise((r) => setTimeout(r, 50));
  const calls = plugindCalls(daemon);
  for (const c of wanted) expect(calls, daemon.stderr).toContain(c);
  expect(daemon.stderr).not.toMatch(/declined: |internal error/);
  return calls;
}
