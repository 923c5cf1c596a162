import { describe, expect, it } from 'vitest';
import { linkExistsHere } from '../src/host';

describe('linkExistsHere', () => {
  it("reads this process's own namespace from /proc/net/dev: lo is there, a made-up name is not", () => {
    expect(linkExistsHere('lo')).toBe(true);
    expect(linkExistsHere('tscni-none0')).toBe(false);
    expect(linkExistsHere('')).toBe(false);
  });
});
