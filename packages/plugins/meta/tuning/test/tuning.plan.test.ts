import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '@tscni/cni';
import { recordCommands, type RecordedCall } from '@tscni/testing/node';
import { tuning } from '../src/tuning';

// The exact commands (and how few processes) a tuning ADD costs, through the injectable runner.
const POD = import.meta.filename; // any existing path that is not our own netns
const dataDir = mkdtempSync(join(tmpdir(), 'tuning-plan-'));
const ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'ctr1',
  CNI_NETNS: POD,
  CNI_IFNAME: 'eth0.5',
  CNI_PATH: '/opt/cni/bin',
};
const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'veth1' }, { name: 'eth0.5', sandbox: POD }],
  ips: [{ address: '10.1.0.2/24', interface: 1 }],
};
const conf = {
  cniVersion: '1.0.0',
  name: 'net1',
  type: 'tuning',
  dataDir,
  sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1', 'net/ipv6/conf/IFNAME/accept_ra': '0' },
  mac: 'C2-11-22-33-44-55',
  mtu: 1400,
  allmulti: false,
  prevResult,
};

const kernel = (call: RecordedCall) =>
  call.cmd === 'ip' && call.args.includes('show')
    ? JSON.stringify([
        {
          ifindex: 2,
          ifname: 'eth0.5',
          flags: ['BROADCAST', 'ALLMULTI'],
          mtu: 1500,
          address: '02:00:00:00:00:01',
          txqlen: 1000,
        },
      ])
    : '';

describe('tuning ADD plan', () => {
  let rec: ReturnType<typeof recordCommands> | undefined;
  afterEach(() => rec?.restore());
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('costs three processes in the pod netns, two one after the other: one sysctl -w beside one link read, then one ip batch', async () => {
    rec = recordCommands(kernel);
    const out = await dispatch(tuning, {}, ENV, () => JSON.stringify(conf));
    expect(out.exitCode, out.stdout).toBe(0);
    expect(JSON.parse(out.stdout).interfaces[1]).toEqual({ name: 'eth0.5', mac: 'c2:11:22:33:44:55', sandbox: POD });
    expect(rec.calls.map((c) => [c.cmd, [...c.args], c.netns, c.input])).toEqual([
      ['sysctl', ['-q', '-w', 'net.ipv4.conf.eth0/5.arp_filter=1', 'net.ipv6.conf.eth0/5.accept_ra=0'], POD, undefined],
      ['ip', ['-j', '-d', 'link', 'show', 'dev', 'eth0.5'], POD, undefined],
      [
        'ip',
        ['-batch', '-'],
        POD,
        'link set dev eth0.5 mtu 1400\nlink set dev eth0.5 address c2:11:22:33:44:55\nlink set dev eth0.5 allmulticast off\n',
      ],
    ]);
    expect(readFileSync(join(dataDir, 'ctr1_eth0.5.json'), 'utf8')).toBe(
      '{\n "mac": "02:00:00:00:00:01",\n "mtu": 1500,\n "allmulti": true\n}',
    );
  });

  it('DEL restores with -force (one attribute failing does not stop the others) and removes the backup', async () => {
    rec = recordCommands(() => '');
    const out = await dispatch(tuning, {}, { ...ENV, CNI_COMMAND: 'DEL' }, () => JSON.stringify(conf));
    expect(out.exitCode, out.stdout).toBe(0);
    expect(rec.calls.map((c) => [c.cmd, [...c.args], c.input])).toEqual([
      [
        'ip',
        ['-force', '-batch', '-'],
        'link set dev eth0.5 mtu 1500\nlink set dev eth0.5 address 02:00:00:00:00:01\nlink set dev eth0.5 allmulticast on\n',
      ],
    ]);
    expect(() => readFileSync(join(dataDir, 'ctr1_eth0.5.json'))).toThrow();
  });
});
