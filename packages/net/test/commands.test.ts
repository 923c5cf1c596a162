import { afterEach, describe, expect, it } from 'vitest';
import { inNetns, ipBatch, setRunner, spawnRunner, writeSysctlsIn, type CommandRunner } from '../src/host';
import { ifaceConfigCommands } from '../src/pod';

const recorded: { cmd: string; args: readonly string[]; input?: string; netns?: string }[] = [];
const recorder: CommandRunner = async (cmd, args, opts = {}) => {
  recorded.push({ cmd, args, input: opts.input, netns: opts.netns });
  return { stdout: '', stderr: '' };
};

describe('command building (injected runner)', () => {
  afterEach(() => {
    setRunner(spawnRunner);
    recorded.length = 0;
  });

  it('ipBatch sends every command in one process', async () => {
    setRunner(recorder);
    await ipBatch(
      [
        ['link', 'set', 'dev', 'eth0', 'up'],
        ['addr', 'add', '10.0.0.2/24', 'dev', 'eth0'],
      ],
      '/var/run/netns/p1',
    );
    expect(recorded).toEqual([
      {
        cmd: 'ip',
        args: ['-batch', '-'],
        input: 'link set dev eth0 up\naddr add 10.0.0.2/24 dev eth0\n',
        netns: '/var/run/netns/p1',
      },
    ]);
  });

  it('ipBatch refuses a token that would smuggle a second command', async () => {
    setRunner(recorder);
    await expect(ipBatch([['link', 'set', 'dev', 'eth0\nlink del eth1', 'up']])).rejects.toThrow(/unsafe/);
    await expect(ipBatch([['link', 'set', 'dev', 'a b', 'up']])).rejects.toThrow(/unsafe/);
    expect(recorded).toEqual([]);
  });

  it('sysctls inside a namespace are one sysctl -w; bad keys are refused', async () => {
    setRunner(recorder);
    await writeSysctlsIn('/proc/1/ns/net', {
      'net.ipv4.conf.eth0.arp_notify': 1,
      'net.ipv4.conf.eth0/100.rp_filter': 0,
    });
    expect(recorded[0]).toMatchObject({
      cmd: 'sysctl',
      args: ['-q', '-w', 'net.ipv4.conf.eth0.arp_notify=1', 'net.ipv4.conf.eth0/100.rp_filter=0'],
      netns: '/proc/1/ns/net',
    });
    await expect(writeSysctlsIn('/x', { 'net.ipv4.//.x': 1 })).rejects.toThrow(/invalid sysctl key/);
    await expect(writeSysctlsIn('/x', { 'net/../../etc': 1 })).rejects.toThrow(/invalid sysctl key/);
  });

  it('ifaceConfigCommands mirrors ipam.ConfigureIface', () => {
    const cmds = ifaceConfigCommands(
      'eth0',
      {
        cniVersion: '1.0.0',
        interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/x' }],
        ips: [
          { address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 2 },
          { address: 'fd00::2/64', gateway: 'fd00::1', interface: 2 },
          { address: '192.168.0.9/24', interface: 1 },
        ],
        routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', priority: 10 }, { dst: '172.16.0.0/12', gw: '10.0.0.254' }],
      },
      { nodad: true },
    );
    expect(cmds).toEqual([
      ['addr', 'add', '10.0.0.2/24', 'dev', 'eth0'],
      ['addr', 'add', 'fd00::2/64', 'dev', 'eth0', 'nodad'],
      ['link', 'set', 'dev', 'eth0', 'up'],
      ['route', 'add', '0.0.0.0/0', 'via', '10.0.0.1', 'dev', 'eth0'],
      ['route', 'add', '::/0', 'via', 'fd00::1', 'dev', 'eth0', 'metric', '10'],
      ['route', 'add', '172.16.0.0/12', 'via', '10.0.0.254', 'dev', 'eth0'],
    ]);
  });
});

describe('entering a namespace', () => {
  it('ip and tc enter a pinned namespace themselves; other tools and other paths go through nsenter', () => {
    expect(inNetns('/var/run/netns/cni-1a2b', 'ip', ['-batch', '-'])).toEqual([
      'ip',
      ['-n', 'cni-1a2b', '-batch', '-'],
    ]);
    expect(inNetns('/run/netns/p.1', 'tc', ['-j', 'qdisc', 'show'])).toEqual([
      'tc',
      ['-n', 'p.1', '-j', 'qdisc', 'show'],
    ]);
    expect(inNetns('/var/run/netns/p1', 'sysctl', ['-n', 'x'])).toEqual([
      'nsenter',
      ['--net=/var/run/netns/p1', '--', 'sysctl', '-n', 'x'],
    ]);
    expect(inNetns('/proc/42/ns/net', 'ip', ['link'])).toEqual([
      'nsenter',
      ['--net=/proc/42/ns/net', '--', 'ip', 'link'],
    ]);
    for (const odd of ['/var/run/netns/..', '/var/run/netns/a/b', '/var/run/netns/-x', '/tmp/netns/p1'])
      expect(inNetns(odd, 'ip', ['link'])[0]).toBe('nsenter');
    expect(inNetns(undefined, 'ip', ['link'])).toEqual(['ip', ['link']]);
  });
});
