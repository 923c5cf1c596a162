/**
 * Which host tools a plugin ran: a directory of shims put first on the plugin's PATH, each appending its name to a
 * log and then running the real tool (plugins spawn their tools by name).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The netfilter tools ipMasq, portmap and the spoof check run. */
export const NETFILTER_TOOLS = [
  'iptables',
  'iptables-save',
  'iptables-restore',
  'ip6tables',
  'ip6tables-save',
  'ip6tables-restore',
  'nft',
];

export interface ToolLog {
  /** PATH for the plugin: the shims, then the test's own PATH. */
  path: string;
  /** The tools run since the last `clear`, in order. */
  tools(): string[];
  clear(): void;
}

export function toolLog(dir: string, tools: readonly string[] = NETFILTER_TOOLS): ToolLog {
  const shims = join(dir, 'tool-shims');
  const log = join(dir, 'tool-log');
  mkdirSync(shims, { recursive: true });
  for (const tool of tools) {
    const real = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { encoding: 'utf8' }).stdout.trim();
    if (!real) continue;
    writeFileSync(join(shims, tool), `#!/bin/sh\necho ${tool} >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  }
  return {
    path: `${shims}:${process.env.PATH ?? ''}`,
    tools: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
    clear: () => rmSync(log, { force: true }),
  };
}
