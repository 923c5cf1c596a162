import { describe, expect, it } from 'vitest';
import { parseInvocation } from '../src/host/rtnetlink/commands';

/** Which `ip` invocations are done in-process: decided before anything runs, all of a batch or none of it. */
describe('rtnetlink: the subset of ip done in-process', () => {
  it('takes the hot paths: loopback, a link by name, its addresses', () => {
    expect(parseInvocation(['-j', '-batch', '-'], 'link set dev lo up\naddr show dev lo\n')?.commands).toEqual([
      { op: 'link-set', dev: 'lo', up: true },
      { op: 'addr-show', dev: 'lo' },
    ]);
    expect(parseInvocation(['-j', '-d', 'link', 'show', 'dev', 'eth0'], undefined)?.commands).toEqual([
      { op: 'link-show', dev: 'eth0' },
    ]);
    expect(parseInvocation(['-j', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'], undefined)?.commands).toEqual([
      { op: 'addr-show', dev: 'eth0', scope: 0 },
    ]);
    expect(parseInvocation(['link', 'del', 'dev', 'veth1234abcd'], undefined)?.batch).toBe(false);
  });

  it('leaves everything else to ip, the whole batch', () => {
    for (const [args, input] of [
      [['-force', '-batch', '-'], 'link set dev lo up\n'], // -force goes on after a failure
      [['-4', '-batch', '-'], 'link set dev lo up\n'],
      [['-batch', '-'], 'link set dev lo up\nlink set dev lo mtu 1400\n'], // one command outside: all to ip
      [['-batch', '-'], 'link set dev lo up'], // not how ipBatch writes a batch
      [['-batch', '-'], ''],
      [['link', 'show', 'dev', 'lo'], undefined], // text output
      [['-j', 'link', 'show'], undefined], // every link
      [['link', 'set', 'dev', 'a/b', 'up'], undefined],
      [['link', 'set', 'dev', 'x:1', 'up'], undefined],
      [['link', 'set', 'dev', 'a-name-of-16-chr', 'up'], undefined],
      [['link', 'set', 'dev', '..', 'up'], undefined],
      [['-j', 'link', 'show', 'dev', 'lo'], 'x\n'], // stdin without -batch
    ] as [string[], string | undefined][])
      expect(parseInvocation(args, input), `${args.join(' ')} ${input}`).toBeUndefined();
  });
});
