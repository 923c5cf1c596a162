// The vlan plugin's command plan through the injectable runner: runs on any kernel (this one has no 8021q).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '@tscni/cni';
import { CommandError } from '@tscni/net/host';
import { recordCommands, type RecordedCall } from '@tscni/testing/node';
import { vlan } from '../src/vlan';

const dir = mkdtempSync(join(tmpdir(), 'vlan-plan-'));
const pod = join(dir, 'podns'); // stands in for a netns path: only its existence is checked before the runner
writeFileSync(pod, '');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (command: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'ctr-vlan-plan',
  CNI_NETNS: pod,
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/usr/lib/cni',
  ...extra,
});
const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'vlannet',
  type: 'vlan',
  master: 'trunk0',
  vlanId: 100,
  ipam: {
    type: 'static',
    addresses: [{ address: '10.80.0.5/24', gateway: '10.80.0.1' }],
    routes: [{ dst: '0.0.0.0/0' }],
  },
  ...extra,
});
const masterJson = JSON.stringify([{ ifindex: 3, ifname: 'trunk0', flags: ['UP'], mtu: 1500, operstate: 'UP' }]);
const fail = (call: RecordedCall, stderr: string) => {
  throw new CommandError(call.cmd, call.args, 1, stderr);
};
const tmpNameOf = (calls: RecordedCall[]) =>
  /name (cni[0-9a-f]{8})/.exec(calls.find((c) => c.input?.startsWith('link add'))?.input ?? '')?.[1];

/** A kernel that has 8021q: answers the lookups and the final `link show`. */
function kernel(overrides: (call: RecordedCall) => string | undefined = () => undefined) {
  return (call: RecordedCall): string => {
    const o = overrides(call);
    if (o !== undefined) return o;
    if (call.args.join(' ') === '-j -d link show dev trunk0') return masterJson;
    if (call.input?.includes('link show dev eth0'))
      return JSON.stringify([
        { ifindex: 9, ifname: 'eth0', flags: ['UP'], mtu: 1500, address: '0a:0b:0c:0d:0e:0f', operstate: 'UP' },
      ]);
    return '';
  };
}

const run = async (e: Record<string, string>, c: unknown) => {
  const out = await dispatch(vlan, {}, e, () => JSON.stringify(c));
  return { ...out, json: out.stdout ? JSON.parse(out.stdout) : undefined };
};

describe('vlan command plan', () => {
  let rec: ReturnType<typeof recordCommands> | undefined;
  afterEach(() => rec?.restore());

  it('ADD: one ip link add into the pod, one sysctl, one batch that renames, addresses, ups and routes', async () => {
    rec = recordCommands(kernel());
    const r = await run(env('ADD'), conf());
    expect(r.exitCode, r.stdout).toBe(0);
    const tmp = tmpNameOf(rec.calls)!;
    expect(tmp).toBeDefined();
    expect(rec.calls.map((c) => [c.cmd, c.netns ?? 'node', c.input ?? c.args.join(' ')])).toEqual([
      ['ip', 'node', '-j -d link show dev trunk0'],
      ['ip', 'node', `link add link trunk0 name ${tmp} netns ${pod} mtu 1500 type vlan id 100\n`],
      ['sysctl', pod, expect.stringContaining(`net.ipv4.conf.${tmp}.arp_notify=1`)],
      [
        'ip',
        pod,
        [
          `link set dev ${tmp} name eth0`,
          'addr add 10.80.0.5/24 dev eth0',
          'link set dev eth0 up',
          'route add 0.0.0.0/0 via 10.80.0.1 dev eth0',
          'link show dev eth0',
          '',
        ].join('\n'),
      ],
    ]);
    expect(r.json).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: '0a:0b:0c:0d:0e:0f', sandbox: pod }],
      ips: [{ address: '10.80.0.5/24', gateway: '10.80.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0' }],
    });
  });

  it('ADD with mtu and linkInContainer creates the link inside the pod, where the master is', async () => {
    rec = recordCommands(kernel());
    const r = await run(env('ADD'), conf({ mtu: 1400, linkInContainer: true }));
    expect(r.exitCode, r.stdout).toBe(0);
    const tmp = tmpNameOf(rec.calls)!;
    expect(rec.calls[0]).toMatchObject({ netns: pod, args: ['-j', '-d', 'link', 'show', 'dev', 'trunk0'] });
    expect(rec.calls[1]).toMatchObject({
      netns: pod,
      input: `link add link trunk0 name ${tmp} mtu 1400 type vlan id 100\n`,
    });
  });

  it('a kernel without 8021q: the error names the missing support and nothing else runs', async () => {
    rec = recordCommands(
      kernel((c) => (c.input?.startsWith('link add') ? fail(c, 'Error: Unknown device type.\n') : undefined)),
    );
    const r = await run(env('ADD'), conf());
    expect(r.exitCode).toBe(1);
    expect(r.json).toMatchObject({ code: 999, msg: expect.stringContaining('kernel has no vlan support') });
    expect(rec.calls).toHaveLength(2);
  });

  it('a failed configure batch deletes the temporary link again', async () => {
    let tmp = '';
    rec = recordCommands(
      kernel((c) => {
        if (c.input?.startsWith('link add')) tmp = /name (\S+)/.exec(c.input)![1];
        if (c.input?.startsWith('link set dev cni')) fail(c, 'RTNETLINK answers: File exists\nCommand failed -:1\n');
        if (tmp && c.args.join(' ') === `-j -d link show dev ${tmp}`)
          return JSON.stringify([{ ifname: tmp, flags: [], mtu: 1500 }]);
        return undefined;
      }),
    );
    const r = await run(env('ADD'), conf());
    expect(r.exitCode).toBe(1);
    expect(r.json.msg).toContain('already exists');
    expect(rec.calls.at(-1)).toMatchObject({ netns: pod, input: `link del dev ${tmp}\n` });
  });

  it("an mtu above the master's is refused before anything is created", async () => {
    rec = recordCommands(kernel());
    const r = await run(env('ADD'), conf({ mtu: 9000 }));
    expect(r.json).toMatchObject({ code: 7, msg: expect.stringContaining('mtu') });
    expect(rec.calls.map((c) => c.args.join(' '))).toEqual(['-j -d link show dev trunk0']);
  });

  it('a missing master is error 7 naming it', async () => {
    rec = recordCommands(
      kernel((c) =>
        c.args.join(' ') === '-j -d link show dev trunk0' ? fail(c, 'Device "trunk0" does not exist.') : undefined,
      ),
    );
    const r = await run(env('ADD'), conf());
    expect(r.json).toMatchObject({ code: 7, msg: expect.stringContaining('master') });
  });

  it('DEL deletes the link in the pod; a missing link or netns is success', async () => {
    rec = recordCommands((c) => (c.input === 'link del dev eth0\n' ? fail(c, 'Cannot find device "eth0"') : ''));
    const r = await run(env('DEL'), conf());
    expect(r.exitCode, r.stdout).toBe(0);
    expect(rec.calls).toEqual([{ cmd: 'ip', args: ['-batch', '-'], netns: pod, input: 'link del dev eth0\n' }]);
    const gone = await run(env('DEL', { CNI_NETNS: join(dir, 'no-such-ns') }), conf());
    expect(gone.exitCode, gone.stdout).toBe(0);
    expect(rec.calls).toHaveLength(1);
  });

  describe('config errors are code 7 naming the field', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['no master', { master: undefined }, 'master'],
      ['a master with a slash', { master: 'a/b' }, 'master'],
      ['no vlanId', { vlanId: undefined }, 'vlanId'],
      ['vlanId 4095', { vlanId: 4095 }, 'vlanId'],
      ['a negative mtu', { mtu: -1 }, 'mtu'],
      ['no ipam', { ipam: undefined }, 'ipam'],
    ];
    for (const [what, extra, field] of cases) {
      it(what, async () => {
        rec = recordCommands(kernel());
        const r = await run(env('ADD'), conf(extra));
        expect(r.json).toMatchObject({ code: 7, msg: expect.stringContaining(field) });
        expect(rec.calls).toEqual([]);
      });
    }
  });
});
