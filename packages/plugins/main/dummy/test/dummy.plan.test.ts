// The dummy plugin's command plan through the injectable runner: runs on any kernel (this one has no dummy).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '@tscni/cni';
import { CommandError } from '@tscni/net/host';
import { recordCommands, type RecordedCall } from '@tscni/testing/node';
import { dummy } from '../src/dummy';

const dir = mkdtempSync(join(tmpdir(), 'dummy-plan-'));
const pod = join(dir, 'podns'); // stands in for a netns path: only its existence is checked before the runner
writeFileSync(pod, '');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (command: string) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'ctr-dummy-plan',
  CNI_NETNS: pod,
  CNI_IFNAME: 'dummy0',
  CNI_PATH: '/usr/lib/cni',
});
const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'dummynet',
  type: 'dummy',
  ipam: { type: 'static', addresses: [{ address: '10.84.0.5/24' }, { address: 'fd84::5/64' }] },
  ...extra,
});
const kernel = (call: RecordedCall): string =>
  call.input?.endsWith('link show dev dummy0\n')
    ? JSON.stringify([
        { ifindex: 2, ifname: 'dummy0', flags: ['UP'], mtu: 1500, address: '2a:00:00:00:00:05', operstate: 'UNKNOWN' },
      ])
    : '';
const run = async (e: Record<string, string>, c: unknown) => {
  const out = await dispatch(dummy, {}, e, () => JSON.stringify(c));
  return { ...out, json: out.stdout ? JSON.parse(out.stdout) : undefined };
};

describe('dummy command plan', () => {
  let rec: ReturnType<typeof recordCommands> | undefined;
  afterEach(() => rec?.restore());

  it('ADD: a dummy link straight into the pod, IPv6 enabled for its v6 address, then one configure batch', async () => {
    rec = recordCommands(kernel);
    const r = await run(env('ADD'), conf());
    expect(r.exitCode, r.stdout).toBe(0);
    const [add, sysctl, batch] = rec.calls;
    const tmp = /name (cni[0-9a-f]{8})/.exec(add.input!)![1];
    expect(add).toMatchObject({ cmd: 'ip', netns: undefined, input: `link add name ${tmp} netns ${pod} type dummy\n` });
    expect(sysctl.netns).toBe(pod);
    expect(sysctl.args).toEqual(
      expect.arrayContaining([
        `net.ipv6.conf.${tmp}.disable_ipv6=0`,
        'net.ipv6.conf.lo.disable_ipv6=0',
        `net.ipv4.conf.${tmp}.arp_notify=1`,
      ]),
    );
    expect(batch.input).toBe(
      [
        `link set dev ${tmp} name dummy0`,
        'addr add 10.84.0.5/24 dev dummy0',
        'addr add fd84::5/64 dev dummy0',
        'link set dev dummy0 up',
        'link show dev dummy0',
        '',
      ].join('\n'),
    );
    expect(r.json).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'dummy0', mac: '2a:00:00:00:00:05', sandbox: pod }],
      ips: [
        { address: '10.84.0.5/24', interface: 0 },
        { address: 'fd84::5/64', interface: 0 },
      ],
    });
    expect(rec.calls).toHaveLength(3);
  });

  it('a kernel without dummy: the error names the missing support', async () => {
    rec = recordCommands((c) => {
      if (c.input?.startsWith('link add')) throw new CommandError('ip', c.args, 1, 'Error: Unknown device type.\n');
      return kernel(c);
    });
    const r = await run(env('ADD'), conf());
    expect(r.json).toMatchObject({ code: 999, msg: expect.stringContaining('kernel has no dummy support') });
  });

  it('DEL deletes the link in the pod', async () => {
    rec = recordCommands(kernel);
    const r = await run(env('DEL'), conf());
    expect(r.exitCode, r.stdout).toBe(0);
    expect(rec.calls).toEqual([{ cmd: 'ip', args: ['-batch', '-'], netns: pod, input: 'link del dev dummy0\n' }]);
  });

  it('ipam is required (code 7 naming it)', async () => {
    rec = recordCommands(kernel);
    const r = await run(env('ADD'), conf({ ipam: undefined }));
    expect(r.json).toMatchObject({ code: 7, msg: expect.stringContaining('ipam') });
    expect(rec.calls).toEqual([]);
  });

  it('STATUS forwards to IPAM', async () => {
    rec = recordCommands(kernel);
    const r = await run({ CNI_COMMAND: 'STATUS', CNI_PATH: dir }, conf({ cniVersion: '1.1.0' }));
    expect(r.json).toMatchObject({ code: 7, msg: expect.stringContaining('failed to find plugin "static"') });
  });
});
