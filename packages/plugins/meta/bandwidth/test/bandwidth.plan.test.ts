import { afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '@tscni/cni';
import { CommandError, hashedName } from '@tscni/net/host';
import { recordCommands, type RecordedCall } from '@tscni/testing/node';
import { bandwidth } from '../src/bandwidth';
import { tbfArgs, tbfFor, tickInUsec } from '../src/tbf';

// The exact commands (and how few processes) an ADD costs, through the injectable runner: no kernel needed.
const POD = import.meta.filename; // any existing path that is not our own netns
const ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'ctr1',
  CNI_NETNS: POD,
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
};
const IFB = hashedName('bwp', 15, 'net1', 'ctr1');
const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: POD }],
  ips: [{ address: '10.1.0.2/24', interface: 2 }],
};
const conf = {
  cniVersion: '1.0.0',
  name: 'net1',
  type: 'bandwidth',
  ingressRate: 10_000_000,
  ingressBurst: 1_000_000,
  egressRate: 8_000_000,
  egressBurst: 800_000,
  prevResult,
};

/** The pod's veth (peer index 7) and the host's links, where veth1 has MTU `hostMtu`; tc fails at line `tcFails`. */
function kernel(tcFails?: string, hostMtu = 1450) {
  return (call: RecordedCall) => {
    const line = [call.cmd, ...call.args].join(' ');
    if (line === 'ip -j -d link show dev eth0')
      return JSON.stringify([
        { ifindex: 2, link_index: 7, ifname: 'eth0', flags: [], mtu: 1500, linkinfo: { info_kind: 'veth' } },
      ]);
    if (line === 'ip -d -j -batch -')
      return [
        [{ ifindex: 9, ifname: IFB, mtu: 1500, address: '0a:0b:0c:0d:0e:0f', linkinfo: { info_kind: 'ifb' } }],
        [
          { ifindex: 5, ifname: 'cni0', flags: [], mtu: 1500, linkinfo: { info_kind: 'bridge' } },
          { ifindex: 7, ifname: 'veth1', flags: [], mtu: hostMtu, linkinfo: { info_kind: 'veth' } },
        ],
      ]
        .map((a) => JSON.stringify(a))
        .join('\n');
    if (line === 'tc -batch -' && tcFails && call.input!.includes('qdisc add'))
      throw new CommandError(
        'tc',
        call.args,
        1,
        `Error: Exclusivity flag on, cannot modify.\nCommand failed -:${tcFails}\n`,
      );
    return '';
  };
}

describe('bandwidth ADD plan', () => {
  let rec: ReturnType<typeof recordCommands> | undefined;
  afterEach(() => rec?.restore());

  it('costs three processes, two one after the other: pod link beside one ip batch that makes the IFB and lists the host links, then one tc batch', async () => {
    rec = recordCommands(kernel(undefined, 1500));
    const out = await dispatch(bandwidth, {}, ENV, () => JSON.stringify(conf));
    expect(out.exitCode, out.stdout).toBe(0);
    expect(JSON.parse(out.stdout).interfaces.at(-1)).toEqual({ name: IFB, mac: '0a:0b:0c:0d:0e:0f' });
    expect(rec.calls.map((c) => [c.cmd, c.netns])).toEqual([
      ['ip', POD],
      ['ip', undefined],
      ['tc', undefined],
    ]);
    expect(rec.calls[1]!.input).toBe(
      `link add name ${IFB} txqueuelen 0 type ifb\nlink set dev ${IFB} up\nlink show dev ${IFB}\nlink show\n`,
    );
    const tick = tickInUsec();
    expect(rec.calls[2]!.input!.split('\n')).toEqual([
      ['qdisc add dev veth1 root handle 1:', ...tbfArgs(tbfFor(10_000_000, 1_000_000, tick), tick)].join(' '),
      'qdisc add dev veth1 handle ffff: ingress',
      `filter add dev veth1 parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev ${IFB}`,
      [`qdisc add dev ${IFB} root handle 1:`, ...tbfArgs(tbfFor(8_000_000, 800_000, tick), tick)].join(' '),
      '',
    ]);
  });

  it("gives the IFB the host veth's MTU in one more ip call when it is not the one the IFB was made with", async () => {
    rec = recordCommands(kernel());
    const out = await dispatch(bandwidth, {}, ENV, () => JSON.stringify(conf));
    expect(out.exitCode, out.stdout).toBe(0);
    expect(rec.calls.map((c) => [c.cmd, c.input?.startsWith('link set') ? c.input : undefined])).toEqual([
      ['ip', undefined],
      ['ip', undefined],
      ['ip', `link set dev ${IFB} mtu 1450\n`],
      ['tc', undefined],
    ]);
  });

  it('when the host veth is not in the result, removes the IFB it made and reports the check', async () => {
    rec = recordCommands(kernel());
    const out = await dispatch(bandwidth, {}, ENV, () =>
      JSON.stringify({
        ...conf,
        prevResult: { ...prevResult, interfaces: [{ name: 'cni0' }, prevResult.interfaces[2]] },
      }),
    );
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout).msg).toBe('no veth peer of container interface found in host ns');
    expect(rec.calls.at(-1)).toMatchObject({ cmd: 'ip', input: `link del dev ${IFB}\n` });
  });

  it('when tc stops at line 2, undoes line 1 only and deletes the IFB', async () => {
    rec = recordCommands(kernel('2'));
    const out = await dispatch(bandwidth, {}, ENV, () => JSON.stringify(conf));
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ code: 999, msg: expect.stringContaining('Exclusivity flag on') });
    const after = rec.calls.slice(4).map((c) => [c.cmd, c.input]);
    expect(after).toEqual([
      ['tc', 'qdisc del dev veth1 root handle 1:\n'],
      ['ip', `link del dev ${IFB}\n`],
    ]);
  });

  it('DEL of an attachment without an IFB spawns nothing (the IFB is looked up in /proc/net/dev first)', async () => {
    // Removing an IFB that exists is one `ip link del`: bandwidth.test.ts DELs real ones.
    rec = recordCommands(() => '');
    const out = await dispatch(bandwidth, {}, { ...ENV, CNI_COMMAND: 'DEL' }, () => JSON.stringify(conf));
    expect(out.exitCode, out.stdout).toBe(0);
    expect(rec.calls).toEqual([]);
  });
});
