import { describe, expect, it } from 'vitest';
import { failuresOf, sideBySide } from '../src/host';

const after =
  (ms: number, log: string[], name: string, fail = false) =>
  async () => {
    log.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
  };

describe('side by side', () => {
  it('starts every step at once and waits for all of them, even past a failure', async () => {
    const log: string[] = [];
    await expect(sideBySide([after(30, log, 'slow'), after(1, log, 'quick', true)])).rejects.toThrow('quick');
    expect(log).toEqual(['start slow', 'start quick', 'end quick', 'end slow']);
  });

  it('reports failures in the order of the steps, not of their ends; a synchronous throw counts as one', async () => {
    const log: string[] = [];
    const failures = await failuresOf([
      after(20, log, 'first', true),
      () => {
        throw new Error('sync');
      },
      after(1, log, 'third', true),
      after(1, log, 'fine'),
    ]);
    expect(failures.map((e) => (e as Error).message)).toEqual(['first', 'sync', 'third']);
    await expect(sideBySide([after(1, log, 'a'), after(1, log, 'b')])).resolves.toBeUndefined();
  });
});
