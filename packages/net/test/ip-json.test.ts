import { describe, expect, it } from 'vitest';
import { jsonArray, jsonArrays } from '../src/host/ip-json';

// What `ip -j -batch -` printed for `link set … up`, `addr show dev lo`, `link show dev lo` (trimmed).
const BATCH = [
  '[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]}]',
  '[{"ifindex":1,"ifname":"lo","link_type":"loopback","address":"00:00:00:00:00:00"}]',
  '',
].join('\n');

describe('ip/tc -j output', () => {
  it('reads every array of a -batch run in order, and the last one as the command output', () => {
    expect(
      jsonArrays<{ ifname: string; addr_info?: unknown[] }>(BATCH).map((a) => [a[0].ifname, !!a[0].addr_info]),
    ).toEqual([
      ['lo', true],
      ['lo', false],
    ]);
    expect(jsonArray<{ link_type: string }>(BATCH)[0].link_type).toBe('loopback');
  });

  it('treats no output (a batch without show, an empty listing) as an empty array', () => {
    expect(jsonArrays('')).toEqual([]);
    expect(jsonArray('')).toEqual([]);
    expect(jsonArray('[]\n')).toEqual([]);
  });

  it('fails on output that is not JSON instead of guessing', () => {
    expect(() => jsonArrays('[{"ifname": }]\n')).toThrow(SyntaxError);
  });
});
