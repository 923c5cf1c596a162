/** Tools that enter a namespace pinned under /var/run/netns themselves (`-n NAME`): one exec instead of two. */
const SELF_ENTERING = new Set(['ip', 'tc']);
const PINNED = /^\/(?:var\/)?run\/netns\/([A-Za-z0-9_][A-Za-z0-9_.-]*)$/;

/** The argv that runs `cmd` inside the network namespace at `netns`: `ip -n NAME`/`tc -n NAME`, else `nsenter`. */
export function inNetns(netns: string | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  if (!netns) return [cmd, [...args]];
  const pinned = SELF_ENTERING.has(cmd) ? PINNED.exec(netns) : null;
  if (pinned) return [cmd, ['-n', pinned[1], ...args]];
  return ['nsenter', [`--net=${netns}`, '--', cmd, ...args]];
}
