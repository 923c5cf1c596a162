import { describe, expect, it } from 'vitest';
import { homeNetnsPath } from '../src/host/home-netns';
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

  it('takes the veth, address and route commands of createVeth, bridge and ptp', () => {
    const inv = parseInvocation(
      ['-j', '-batch', '-'],
      [
        `link add eth0 mtu 1400 address 0A:58:0a:16:00:05 type veth peer name vh0 mtu 1400 netns ${homeNetnsPath()}`,
        'addr add fd00::2/64 dev eth0 nodad noprefixroute',
        'route add 10.1.0.0/16 via 10.0.0.1 dev eth0 metric 5 table 300 scope link src 10.0.0.2',
        'link set dev vh0 type bridge_slave hairpin on isolated off',
        'link set dev br0 up promisc on',
        'link set dev vh0 master br0',
        '',
      ].join('\n'),
    );
    expect(inv?.commands.map((c) => c.op)).toEqual([
      'veth-add',
      'addr-add',
      'route-add',
      'bridge-port',
      'link-set',
      'link-set',
    ]);
    expect(inv?.commands[0]).toMatchObject({ mtu: 1400, peer: 'vh0', peerMtu: 1400, peerHome: true });
    expect(inv?.commands[2]).toMatchObject({ metric: 5, table: 300, scope: 253, dstLen: 16 });
  });

  it("takes bandwidth's and portmap's: the IFB's batch, every link, an MTU, a route lookup", () => {
    const inv = parseInvocation(
      ['-d', '-j', '-batch', '-'],
      'link add name bwp0 txqueuelen 0 type ifb\nlink set dev bwp0 up\nlink show dev bwp0\nlink show\n',
    );
    expect(inv).toMatchObject({ json: true, details: true, batch: true });
    expect(inv?.commands).toEqual([
      { op: 'ifb-add', name: 'bwp0', txqlen: 0 },
      { op: 'link-set', dev: 'bwp0', up: true },
      { op: 'link-show', dev: 'bwp0' },
      { op: 'links-show' },
    ]);
    expect(parseInvocation(['-batch', '-'], 'link add name bwp0 type ifb\n')?.commands).toEqual([
      { op: 'ifb-add', name: 'bwp0' },
    ]);
    expect(parseInvocation(['-j', '-d', 'link', 'show'], undefined)?.commands).toEqual([{ op: 'links-show' }]);
    expect(parseInvocation(['-batch', '-'], 'link set dev bwp0 mtu 1450\n')?.commands).toEqual([
      { op: 'link-set', dev: 'bwp0', mtu: 1450 },
    ]);
    expect(parseInvocation(['-j', 'route', 'get', '10.72.0.3'], undefined)?.commands).toEqual([
      { op: 'route-get', dst: { family: 4, bytes: Uint8Array.of(10, 72, 0, 3) } },
    ]);
    expect(parseInvocation(['-j', 'route', 'get', 'fd00::3'], undefined)?.commands[0]).toMatchObject({
      op: 'route-get',
      dst: { family: 6 },
    });
  });

  it('leaves everything else to ip, the whole batch', () => {
    for (const [args, input] of [
      [['-force', '-batch', '-'], 'link set dev lo up\n'], // -force goes on after a failure
      [['-4', '-batch', '-'], 'link set dev lo up\n'],
      [['-batch', '-'], 'link set dev lo up\nlink set dev lo qlen 5\n'], // one command outside: all to ip
      [['-batch', '-'], 'link set dev lo up'], // not how ipBatch writes a batch
      [['-batch', '-'], ''],
      [['link', 'show', 'dev', 'lo'], undefined], // text output
      [['link', 'show'], undefined], // every link, as text
      [['-j', 'link', 'show', 'up'], undefined],
      [['-j', 'route', 'get', '10.0.0.1', 'from', '10.0.0.2'], undefined],
      [['route', 'get', '10.0.0.1'], undefined], // text output
      [['-j', 'route', 'get', '10.0.0.01'], undefined],
      [['-j', 'route', 'get', '10.0.0.0/24'], undefined],
      [['-j', 'route', 'get'], undefined],
      [['-batch', '-'], 'link add name bwp0 type dummy\n'],
      [['-batch', '-'], 'link add name bwp0 txqueuelen 0 type ifb extra\n'],
      [['-batch', '-'], 'link add name bwp0 txqueuelen -1 type ifb\n'],
      [['-batch', '-'], 'link add name bw/0 type ifb\n'],
      [['link', 'set', 'dev', 'a/b', 'up'], undefined],
      [['link', 'set', 'dev', 'x:1', 'up'], undefined],
      [['link', 'set', 'dev', 'a-name-of-16-chr', 'up'], undefined],
      [['link', 'set', 'dev', '..', 'up'], undefined],
      [['-j', 'link', 'show', 'dev', 'lo'], 'x\n'], // stdin without -batch
      [['-batch', '-'], 'link add eth0 type veth peer name vh0 netns 1\n'], // by pid: follows that process's main thread
      [['-batch', '-'], `link add eth0 type veth peer name vh0 netns ${process.pid}\n`],
      [['-batch', '-'], 'link add eth0 type veth peer name vh0 netns x\n'],
      [['-batch', '-'], 'link add eth0 type bridge\n'],
      [['-batch', '-'], 'link add eth0 address 0a:58:0a:16:00 type veth peer name vh0\n'],
      [['-batch', '-'], 'addr add 10.0.0.2/24 dev eth0 nodad\n'], // nodad is IPv6's
      [['-batch', '-'], 'addr add 10.0.0.2 dev eth0\n'], // no prefix length: ip's default
      [['-batch', '-'], 'addr add 10.0.0.02/24 dev eth0\n'], // not the canonical text
      [['-batch', '-'], 'addr add FD00::2/64 dev eth0\n'],
      [['-batch', '-'], 'addr add 10.0.0.2/33 dev eth0\n'],
      [['-batch', '-'], 'route add 10.1.0.0/16 via fd00::1 dev eth0\n'], // another family's gateway
      [['-batch', '-'], 'route add 10.1.0.0/16 dev eth0 mtu 1400\n'],
      [['-batch', '-'], 'route add default via 10.0.0.1 dev eth0\n'],
      [['-batch', '-'], 'link set dev eth0 mtu 01400\n'],
      [['-batch', '-'], 'link set dev eth0 mtu 1400 mtu 1500\n'],
      [['-batch', '-'], 'link set dev eth0 up up\n'],
      [['-batch', '-'], 'link set dev eth0 type bridge_slave learning off\n'],
    ] as [string[], string | undefined][])
      expect(parseInvocation(args, input), `${args.join(' ')} ${input}`).toBeUndefined();
  });
});
