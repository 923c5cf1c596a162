import { describe, expect, it } from 'vitest';
import { rankedSideBySide } from '../src/pod/ranked-steps';

const later = (ms: number, what: () => void) => () => new Promise<void>((r) => setTimeout(r, ms)).then(what);

describe('rankedSideBySide', () => {
  it('runs the chains at once, each in order, and settles every chain before it throws the lowest-ranked failure', async () => {
    const log: string[] = [];
    const fail = (name: string) => () => {
      log.push(name);
      throw new Error(name);
    };
    const run = rankedSideBySide([
      [
        [0, later(5, () => void log.push('host batch'))],
        [2, later(1, fail('gateway'))],
        [4, later(1, () => void log.push('never: after a failure its chain stops'))],
      ],
      [[1, later(1, () => void log.push('pod sysctls'))]],
      [[3, later(30, fail('masquerade'))]],
    ]);
    await expect(run).rejects.toThrow(/^gateway$/);
    // the masquerade (slowest) had finished before the failure was thrown
    expect(log).toEqual(['pod sysctls', 'host batch', 'gateway', 'masquerade']);
  });

  it('a lower rank wins whatever finishes first; no failure, no throw', async () => {
    const throws = (msg: string) => () => {
      throw new Error(msg);
    };
    await expect(
      rankedSideBySide([[[5, later(1, throws('rank 5'))]], [[1, later(20, throws('rank 1'))]]]),
    ).rejects.toThrow('rank 1');
    await expect(rankedSideBySide([[[0, async () => {}]], []])).resolves.toBeUndefined();
  });
});
