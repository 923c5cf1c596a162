/**
 * What iproute2's tools (`ip -j`, `tc -j`, `bridge -j`) print: one JSON array per command. With `-batch`,
 * every `show` command prints its array on a line of its own and the other commands print nothing, so
 * one stdout may hold several arrays (or none).
 */

/** Every array in the output, in the order the commands printed them. */
export function jsonArrays<T = unknown>(stdout: string): T[][] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('['))
    .map((line) => JSON.parse(line) as T[]);
}

/** The output of one command (for a batch, its last `show`); [] when nothing was printed. */
export function jsonArray<T = unknown>(stdout: string): T[] {
  const all = jsonArrays<T>(stdout);
  return all[all.length - 1] ?? [];
}
