// The ipvlan plugin's command plan through the injectable runner: runs on any kernel (this one has no ipvlan).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '@tscni/cni';
import { CommandError } from '@tscni/net/host';
import { recordCommands, type RecordedCall } from '@tscni/testing/node';
import { ipvlan } from '../src/ipvlan';

const dir = mkdtempSync(join(tmpdir(), 'ipvlan-plan-'));
const pod = join(dir, 'podns'); // stands in for a netns path: only its existence is checked before the runner
writeFileSync(pod, '');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (command: string, ifName = 'eth0') => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'ctr-ipvlan-plan',
  CNI_NETNS: pod,
  CNI_IFNAME: ifName,
  CNI_PATH: '/usr/lib/cni',
});
const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'ipvlnet',
  type: 'ipvlan',
  master: 'uplink0',
  ipam: { type: 'static', addresses: [{ address: '10.82.0.5/24' }] },
  ...extra,
});
const linkJson = (name: string, mac = '0a:00:00:00:00:01') =>
  JSON.stringify([{ ifindex: 3, ifname: name, flags: ['UP'], mtu: 1500, address: mac, operstate: 'UP' }]);
/** A kernel with ipvlan: every link lookup finds a link of that name; `link add` and the batches succeed. */
const kernel = (call: RecordedCall): string => {
  const a = call.args.join(' ');
  if (a.startsWith('-j -d link show dev ')) return linkJson(a.split(' ').pop()!);
  const shown = /link show dev (\S+)\n$/.exec(call.input ?? '');
  return shown ? linkJson(shown[1]) : '';
};
const run = async (e: Record<string, string>, c: unknown) => {
  const out = await dispatch(ipvlan, {}, e, () => JSON.stringify(c));
  return { ...out, json: out.stdout ? JSON.parse(out.stdout) : undefined };
};
const addLine = (calls: RecordedCall[]) => calls.find((c) => c.input?.startsWith('link add'));

describe('ipvlan command plan', () => {
  let rec: ReturnType<typeof recordCommands> | undefined;
  afterEach(() => rec?.restore());

  it('ADD: the ipvlan link is created into the pod in the configured mode, then configured in one batch', async () => {
    rec = recordCommands(kernel);
    const r = await run(env('ADD'), conf({ mode: 'l3' }));
    expect(r.exitCode, r.stdout).toBe(0);
    const add = addLine(rec.calls)!;
    expect(add.netns).toBeUndefined();
    expect(add.input).toMatch(
      new RegExp(`^link add link uplink0 name cni[0-9a-f]{8} netns ${pod} type ipvlan mode l3\\n$`),
    );
    expect(rec.calls.at(-1)!.input).toContain('addr add 10.82.0.5/24 dev eth0\nlink set dev eth0 up\n');
    expect(r.json.ips).toEqual([{ address: '10.82.0.5/24', interface: 0 }]);
  });

  it("chained without master and ipam: the master is prevResult's interface and its addresses move to ipvlan", async () => {
    rec = recordCommands(kernel);
    const prevResult = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', sandbox: pod }],
      ips: [{ address: '10.83.0.7/24', gateway: '10.83.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0' }],
    };
    const r = await run(
      env('ADD', 'ipvl0'),
      conf({ master: undefined, ipam: undefined, linkInContainer: true, prevResult }),
    );
    expect(r.exitCode, r.stdout).toBe(0);
    const add = addLine(rec.calls)!;
    expect(add.netns).toBe(pod);
    expect(add.input).toMatch(/^link add link eth0 name cni[0-9a-f]{8} type ipvlan mode l2\n$/);
    expect(rec.calls.at(-1)!.input).toContain(
      'addr add 10.83.0.7/24 dev ipvl0\nlink set dev ipvl0 up\nroute add 0.0.0.0/0 via 10.83.0.1 dev ipvl0\n',
    );
    expect(r.json.interfaces).toEqual([{ name: 'ipvl0', mac: '0a:00:00:00:00:01', sandbox: pod }]);
    expect(r.json.ips).toEqual([{ address: '10.83.0.7/24', gateway: '10.83.0.1', interface: 0 }]);
  });

  it('a kernel without ipvlan: the error names the missing support', async () => {
    rec = recordCommands((c) => {
      if (c.input?.startsWith('link add')) throw new CommandError('ip', c.args, 1, 'Error: Unknown device type.\n');
      return kernel(c);
    });
    const r = await run(env('ADD'), conf());
    expect(r.json).toMatchObject({ code: 999, msg: expect.stringContaining('kernel has no ipvlan support') });
  });

  describe('config errors are code 7 naming the field', () => {
    const twoIfaces = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'a' }, { name: 'b' }],
      ips: [{ address: '10.0.0.2/24' }],
    };
    const cases: [string, Record<string, unknown>, string][] = [
      ['no master and no prevResult', { master: undefined }, 'master'],
      ['no master and two prevResult interfaces', { master: undefined, prevResult: twoIfaces }, 'master'],
      ['no ipam and no prevResult', { ipam: undefined }, 'ipam'],
      [
        'no ipam and a prevResult without IPs',
        { ipam: {}, prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'x' }] } },
        'ipam',
      ],
      ['an unknown mode', { mode: 'l4' }, 'mode'],
    ];
    for (const [what, extra, field] of cases) {
      it(what, async () => {
        rec = recordCommands(kernel);
        const r = await run(env('ADD'), conf(extra));
        expect(r.json).toMatchObject({ code: 7, msg: expect.stringContaining(field) });
        expect(rec.calls).toEqual([]);
      });
    }
  });
});
