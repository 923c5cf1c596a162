// Debian's 1.1.1 package has no tap plugin: these cases run ours only and assert the kernel's view of the
// device (`ip -d -j link show`: tun info, owner, group, multi_queue, MTU, MAC, master).
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, addrsIn, implementations, linksIn, missingForKernelTests, sh } from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter']);
const ours = implementations('tap')[0];

interface TunInfo {
  type: string;
  multi_queue: boolean;
  vnet_hdr: boolean;
  persist: boolean;
  user?: number | string;
  group?: number | string;
}

describe.skipIf(!!missing)(`tap${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  let cniPath: string;
  let dataDir: string;
  let n = 0;
  beforeAll(() => {
    node = new TestNode('tap');
    cniPath = join(node.tmp, 'cni-bin');
    mkdirSync(cniPath);
    for (const ipam of ['static', 'host-local']) symlinkSync(`/usr/lib/cni/${ipam}`, join(cniPath, ipam));
    dataDir = join(node.tmp, 'ipam');
  });
  afterAll(() => node?.destroy());

  const hostLocal = () => ({ type: 'host-local', subnet: '10.85.0.0/24', routes: [{ dst: '10.86.0.0/16' }], dataDir });
  const conf = (extra: Record<string, unknown> = {}, version = '1.0.0') => ({
    cniVersion: version,
    name: 'tapnet',
    type: 'tap',
    ...extra,
  });
  const env = (command: string, netns: string, id = `ctr-tap-${n++}`) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: netns,
    CNI_IFNAME: 'net1',
    CNI_PATH: cniPath,
  });
  const run = (e: Record<string, string>, c: unknown) => node.runPlugin(ours.bin, e as never, c);
  const tapIn = (pod: string, name = 'net1') =>
    linksIn(pod).find((l) => l.ifname === name) as
      (ReturnType<typeof linksIn>[number] & { linkinfo: { info_kind: string; info_data: TunInfo } }) | undefined;
  const leases = () =>
    (readdirSync(join(dataDir, 'tapnet'), { withFileTypes: true }) ?? [])
      .filter((d) => /^\d/.test(d.name))
      .map((d) => d.name);

  it('ADD makes a multi-queue tap owned by owner/group with the MTU and MAC, on the pod bridge, addressed; CHECK; DEL removes it', async () => {
    const pod = node.addPod();
    sh('ip', ['link', 'add', 'br-vm', 'type', 'bridge'], { netns: pod });
    const c = conf({
      mac: '02:00:00:aa:bb:01',
      mtu: 1400,
      multiQueue: true,
      owner: 4242,
      group: 4343,
      bridge: 'br-vm',
      ipam: hostLocal(),
    });
    const e = env('ADD', pod);
    const add = await run(e, c);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const link = tapIn(pod)!;
    expect(link.linkinfo.info_kind).toBe('tun');
    expect(link.linkinfo.info_data).toMatchObject({
      type: 'tap',
      multi_queue: true,
      vnet_hdr: true,
      persist: true,
      user: 4242,
      group: 4343,
    });
    expect(link).toMatchObject({ mtu: 1400, address: '02:00:00:aa:bb:01', master: 'br-vm' });
    expect(link.flags).toContain('UP');
    expect(addrsIn(pod, 'net1')).toEqual(['10.85.0.2/24']);
    expect(sh('ip', ['-j', 'route', 'show', '10.86.0.0/16'], { netns: pod })).toContain('"dev":"net1"');
    expect(add.json).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'net1', mac: '02:00:00:aa:bb:01', sandbox: pod }],
      ips: [{ address: '10.85.0.2/24', gateway: '10.85.0.1', interface: 0 }],
      routes: [{ dst: '10.86.0.0/16' }],
    });
    expect(
      linksIn(pod)
        .map((l) => l.ifname)
        .sort(),
    ).toEqual(['br-vm', 'lo', 'net1']); // no temporary name left

    const withPrev = { ...c, prevResult: add.json };
    const check = await run({ ...e, CNI_COMMAND: 'CHECK' }, withPrev);
    expect(check.code, check.stdout).toBe(0);
    sh('ip', ['link', 'set', 'net1', 'nomaster'], { netns: pod });
    const badCheck = await run({ ...e, CNI_COMMAND: 'CHECK' }, withPrev);
    expect(badCheck.code).toBe(1);
    expect(badCheck.json.msg).toContain('not a port of bridge br-vm');

    expect((await run({ ...e, CNI_COMMAND: 'DEL' }, withPrev)).code).toBe(0);
    expect(tapIn(pod)).toBeUndefined();
    expect(leases()).toEqual([]);
    expect((await run({ ...e, CNI_COMMAND: 'DEL' }, withPrev)).code).toBe(0);
  });

  it('without ipam: an L2 tap, single queue, no owner, up; runtimeConfig.mac beats CNI_ARGS MAC and the config', async () => {
    const pod = node.addPod();
    const e = { ...env('ADD', pod), CNI_ARGS: 'IgnoreUnknown=1;MAC=02:00:00:00:00:02' };
    const add = await run(e, conf({ mac: '02:00:00:00:00:01', runtimeConfig: { mac: '02:00:00:00:00:03' } }, '0.4.0'));
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const link = tapIn(pod)!;
    expect(link.linkinfo.info_data).toMatchObject({ type: 'tap', multi_queue: false });
    expect(link.linkinfo.info_data.user).toBeUndefined();
    expect(link.address).toBe('02:00:00:00:00:03');
    expect(link.flags).toContain('UP');
    expect(add.json.interfaces).toEqual([{ name: 'net1', mac: '02:00:00:00:00:03', sandbox: pod }]);
    const mac2 = await run({ ...e, CNI_IFNAME: 'net2' }, conf({ mac: '02:00:00:00:00:01' }));
    expect(tapIn(pod, 'net2')!.address, mac2.stdout).toBe('02:00:00:00:00:02');
    expect((await run({ ...e, CNI_COMMAND: 'DEL' }, conf())).code).toBe(0);
    expect((await run({ ...e, CNI_COMMAND: 'DEL', CNI_IFNAME: 'net2' }, conf())).code).toBe(0);
    expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
  });

  it('a bridge that is not in the pod: error naming it, no link left, the IPAM lease released', async () => {
    const pod = node.addPod();
    const add = await run(env('ADD', pod), conf({ bridge: 'nosuchbr', ipam: hostLocal() }));
    expect(add.code).toBe(1);
    expect(add.json.msg).toContain('failed to get bridge nosuchbr');
    expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
    expect(leases()).toEqual([]);
  });

  it('CNI_IFNAME already taken in the pod: error, the temporary tap is removed', async () => {
    const pod = node.addPod();
    sh('ip', ['link', 'add', 'net1', 'type', 'bridge'], { netns: pod });
    const add = await run(
      env('ADD', pod),
      conf({ ipam: { type: 'static', addresses: [{ address: '10.87.0.5/24' }] } }),
    );
    expect(add.code).toBe(1);
    expect(add.json.msg).toContain('already exists');
    expect(
      linksIn(pod)
        .map((l) => l.ifname)
        .sort(),
    ).toEqual(['lo', 'net1']);
    expect(tapIn(pod)!.linkinfo.info_kind).toBe('bridge');
  });

  it('selinuxContext is accepted (without SELinux it has no effect); a malformed one, a bad owner or MAC is error 7', async () => {
    const pod = node.addPod();
    const ok = await run(env('ADD', pod), conf({ selinuxContext: 'system_u:system_r:svirt_t:s0:c1,c2' }));
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(tapIn(pod)!.linkinfo.info_kind).toBe('tun');
    for (const bad of [
      { selinuxContext: 'x; rm -rf /' },
      { owner: -1 },
      { group: 2 ** 32 },
      { mac: 'zz' },
      { multiQueue: 'yes' },
      { bridge: 'a/b' },
    ]) {
      const r = await run(env('ADD', pod), conf(bad));
      expect(r.code, JSON.stringify(bad)).toBe(1);
      expect(r.json.code, JSON.stringify(bad)).toBe(7);
    }
    expect(
      linksIn(pod)
        .map((l) => l.ifname)
        .sort(),
    ).toEqual(['lo', 'net1']);
  });

  it('DEL succeeds when the netns is gone', async () => {
    const r = await run(env('DEL', '/var/run/netns/no-such-tap-ns'), conf({ ipam: hostLocal() }));
    expect(r.code, r.stdout).toBe(0);
  });
});
