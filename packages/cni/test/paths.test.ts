/** @tscni/cni/paths against node:path's POSIX functions, on every string of up to 7 tokens of `a`, `bc`, `.`, `/`. */
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { basename, dirname, isAbsolute, join, normalize } from '../src/paths';

const TOKENS = ['a', 'bc', '.', '/'];
function* strings(max: number, prefix = ''): Generator<string> {
  yield prefix;
  if (max > 0) for (const t of TOKENS) yield* strings(max - 1, prefix + t);
}
const ALL = [...new Set(strings(7))];

describe('@tscni/cni/paths', () => {
  it(`normalize, dirname, basename, isAbsolute match node:path on ${ALL.length} strings`, () => {
    const differ = ALL.flatMap((p) =>
      (
        [
          ['normalize', normalize(p), posix.normalize(p)],
          ['dirname', dirname(p), posix.dirname(p)],
          ['basename', basename(p), posix.basename(p)],
          ['isAbsolute', isAbsolute(p), posix.isAbsolute(p)],
        ] as const
      )
        .filter(([, ours, theirs]) => ours !== theirs)
        .map(([fn, ours, theirs]) => `${fn}(${JSON.stringify(p)}): ${ours} ≠ ${theirs}`),
    );
    expect(differ).toEqual([]);
  });

  it('join matches node:path on pairs and triples', () => {
    const few = [...new Set(strings(4))];
    const differ: string[] = [];
    for (const a of few)
      for (const b of few)
        for (const args of [
          [a, b],
          [a, b, '..', ''],
          ['', a, '', b],
        ])
          if (join(...args) !== posix.join(...args)) differ.push(JSON.stringify(args));
    expect(differ).toEqual([]);
    expect(join()).toBe(posix.join());
    expect(join('/var/lib/cni/networks', 'net', '10.0.0.2')).toBe('/var/lib/cni/networks/net/10.0.0.2');
  });
});
