import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN,
  TestNode,
  implementations,
  missingForKernelTests,
  runInNetns,
  sh,
  type PluginRun,
} from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter']);

const env = (command: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'ctr-static',
  CNI_NETNS: '/var/run/netns/static-test-unused',
  CNI_IFNAME: 'eth0',
  CNI_PATH: DIST_BIN,
  ...extra,
});
const run = (bin: string, command: string, conf: unknown, extra: Record<string, string> = {}): Promise<PluginRun> =>
  runInNetns(undefined, bin, env(command, extra), typeof conf === 'string' ? conf : JSON.stringify(conf));
const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);
const conf = (ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'static-net',
  type: 'bridge',
  ...extra,
  ipam: { type: 'static', ...ipam },
});

const FULL = {
  addresses: [{ address: '10.10.0.1/24', gateway: '10.10.0.254' }, { address: 'fd00:10::1/64' }],
  routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.10.0.253' }, { dst: 'fd00:99::/64' }],
  dns: { nameservers: ['8.8.8.8'], domain: 'example.com', search: ['example.com'], options: ['ndots:2'] },
};

// Pods get a veth end named eth0 (this kernel has no dummy module).
// The same cases against our binary and Debian's /usr/lib/cni/static (cni.md §3.3).
for (const impl of implementations('static')) {
  describe.skipIf(!impl.present)(`static (${impl.name})`, () => {
    const configError = (r: PluginRun, words: string, code = 7) => {
      expect(r.code, r.stdout).toBe(1);
      expect(r.json.code).toBe(impl.name === 'tscni' ? code : 999);
      expect(r.json.msg).toContain(words);
      expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    };

    for (const version of impl.versions.filter((v) => v >= '0.3.0')) {
      it(`ADD at ${version}: addresses, routes, dns`, async () => {
        const r = await run(impl.bin, 'ADD', conf(FULL, { cniVersion: version }));
        ok(r);
        const v = version < '1.0.0' ? (f: string) => ({ version: f }) : () => ({});
        expect(r.json.cniVersion).toBe(version);
        expect(r.json.ips).toEqual([
          { ...v('4'), address: '10.10.0.1/24', gateway: '10.10.0.254' },
          { ...v('6'), address: 'fd00:10::1/64' },
        ]);
        expect(r.json.routes).toEqual(FULL.routes);
        expect(r.json.dns).toEqual(FULL.dns);
      });
    }

    it('ADD at 0.2.0 prints the legacy shape', async () => {
      const r = await run(
        impl.bin,
        'ADD',
        conf(
          { addresses: [{ address: '10.10.0.1/24', gateway: '10.10.0.9' }], routes: [{ dst: '0.0.0.0/0' }] },
          { cniVersion: '0.2.0' },
        ),
      );
      ok(r);
      expect(r.json.ip4).toEqual({ ip: '10.10.0.1/24', gateway: '10.10.0.9', routes: [{ dst: '0.0.0.0/0' }] });
    });

    it('CNI_ARGS IP= (comma separated) with GATEWAY=', async () => {
      const r = await run(impl.bin, 'ADD', conf({}), {
        CNI_ARGS: 'IgnoreUnknown=1;IP=10.20.0.5/16,fd00:20::5/64;GATEWAY=10.20.0.1',
      });
      ok(r);
      expect(r.json.ips).toEqual([{ address: '10.20.0.5/16', gateway: '10.20.0.1' }, { address: 'fd00:20::5/64' }]);
    });

    it('args.cni.ips replaces CNI_ARGS and the config; runtimeConfig.ips replaces all of them', async () => {
      const withArgs = conf({ addresses: [{ address: '10.10.0.1/24' }] }, { args: { cni: { ips: ['10.30.0.5/24'] } } });
      const a = await run(impl.bin, 'ADD', withArgs, { CNI_ARGS: 'IP=10.20.0.5/16' });
      ok(a);
      expect(a.json.ips).toEqual([{ address: '10.30.0.5/24' }]);
      const b = await run(
        impl.bin,
        'ADD',
        { ...withArgs, runtimeConfig: { ips: ['10.40.0.5/24', 'fd00:40::5/64'] } },
        { CNI_ARGS: 'IP=10.20.0.5/16' },
      );
      ok(b);
      expect(b.json.ips).toEqual([{ address: '10.40.0.5/24' }, { address: 'fd00:40::5/64' }]);
    });

    it('DEL is a no-op that always succeeds', async () => {
      ok(await run(impl.bin, 'DEL', conf(FULL)));
      ok(await run(impl.bin, 'DEL', conf(FULL)));
    });

    describe('config validation', () => {
      it('an address without a prefix', async () => {
        configError(
          await run(impl.bin, 'ADD', conf({ addresses: [{ address: '10.10.0.1' }] })),
          "the 'address' field is expected to be in CIDR notation, got: '10.10.0.1'",
        );
      });
      it('a bad gateway', async () => {
        configError(
          await run(impl.bin, 'ADD', conf({ addresses: [{ address: '10.10.0.1/24', gateway: 'x' }] })),
          'invalid IP address: x',
        );
      });
      it('args.cni.ips entries must be CIDRs', async () => {
        configError(
          await run(impl.bin, 'ADD', conf({}, { args: { cni: { ips: ['10.30.0.5'] } } })),
          "an entry in the 'ips' field is NOT in CIDR notation, got: '10.30.0.5'",
        );
      });
      it('runtimeConfig.ips entries must be CIDRs', async () => {
        configError(
          await run(impl.bin, 'ADD', conf({}, { runtimeConfig: { ips: ['10.30.0.5'] } })),
          "an entry in the 'ips' field is NOT in CIDR notation, got: '10.30.0.5'",
        );
      });
      it('CNI_ARGS IP= must be a CIDR (an env error)', async () => {
        configError(
          await run(impl.bin, 'ADD', conf({}), { CNI_ARGS: 'IP=10.20.0.5' }),
          "the 'ip' field is expected to be in CIDR notation, got: '10.20.0.5'",
          4,
        );
      });
      it('a bad route', async () => {
        configError(
          await run(
            impl.bin,
            'ADD',
            conf({ addresses: [{ address: '10.10.0.1/24' }], routes: [{ dst: '10.0.0.0/33' }] }),
          ),
          'invalid CIDR address: 10.0.0.0/33',
        );
      });
      it('two addresses of a family at 0.2.0', async () => {
        configError(
          await run(
            impl.bin,
            'ADD',
            conf({ addresses: [{ address: '10.10.0.1/24' }, { address: '10.11.0.1/24' }] }, { cniVersion: '0.2.0' }),
          ),
          'CNI version 0.2.0 does not support more than 1 address per family',
        );
      });
      it('a missing ipam key', async () => {
        configError(
          await run(impl.bin, 'ADD', { cniVersion: '1.0.0', name: 'n', type: 'bridge' }),
          "IPAM config missing 'ipam' key",
        );
      });
    });

    describe.skipIf(!!missing)(`CHECK against a real interface${missing ? ` — skipped: ${missing}` : ''}`, () => {
      let node: TestNode;
      let pod: string;
      beforeAll(() => {
        node = new TestNode('st');
        pod = node.addPod();
        sh('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0'], { netns: pod });
        for (const a of ['10.10.0.1/24', 'fd00:10::1/64'])
          sh('ip', ['addr', 'add', a, 'dev', 'eth0', 'nodad'], { netns: pod });
        sh('ip', ['link', 'set', 'eth0', 'up'], { netns: pod });
      });
      afterAll(() => node?.destroy());
      const inPod = (command: string, c: unknown) => node.runPlugin(impl.bin, env(command, { CNI_NETNS: pod }), c);

      it('passes when prevResult and the interface carry the addresses', async () => {
        const add = await run(impl.bin, 'ADD', conf(FULL));
        ok(add);
        ok(await inPod('CHECK', { ...conf(FULL), prevResult: add.json }));
      });
      it('fails without a prevResult', async () => {
        const r = await inPod('CHECK', conf(FULL));
        expect(r.code).toBe(1);
        expect(r.json.msg).toContain('Required prevResult missing');
      });
      it('fails when prevResult has another gateway', async () => {
        const prevResult = {
          cniVersion: '1.0.0',
          ips: [{ address: '10.10.0.1/24', gateway: '10.10.0.1' }, { address: 'fd00:10::1/64' }],
        };
        const r = await inPod('CHECK', { ...conf(FULL), prevResult });
        expect(r.code).toBe(1);
        expect(r.json.msg).toContain('static: Failed to match addr 10.10.0.1 on interface eth0');
      });
    });
  });
}

// Beyond the reference (Debian 1.1.1 appends CNI_ARGS addresses to the config's and never looks inside the netns).
describe.skipIf(!!missing)(`static (tscni) beyond the reference${missing ? ` — skipped: ${missing}` : ''}`, () => {
  const [ours] = implementations('static');
  let node: TestNode;
  let pod: string;
  beforeAll(() => {
    node = new TestNode('sx');
    pod = node.addPod();
    sh('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0'], { netns: pod });
    sh('ip', ['addr', 'add', '10.10.0.1/24', 'dev', 'eth0'], { netns: pod });
  });
  afterAll(() => node?.destroy());
  const inPod = (command: string, c: unknown, ifname = 'eth0') =>
    node.runPlugin(ours.bin, env(command, { CNI_NETNS: pod, CNI_IFNAME: ifname }), c);

  it('CNI_ARGS IP= replaces the configured addresses', async () => {
    const r = await run(ours.bin, 'ADD', conf({ addresses: [{ address: '10.10.0.1/24' }] }), {
      CNI_ARGS: 'IP=10.20.0.5/16;GATEWAY=10.20.0.1',
    });
    ok(r);
    expect(r.json.ips).toEqual([{ address: '10.20.0.5/16', gateway: '10.20.0.1' }]);
  });

  it('CHECK fails when an address is missing from the interface or from prevResult', async () => {
    const c = conf({ addresses: [{ address: '10.10.0.1/24' }, { address: '10.11.0.1/24' }] });
    const prevResult = { cniVersion: '1.0.0', ips: [{ address: '10.10.0.1/24' }, { address: '10.11.0.1/24' }] };
    const r = await inPod('CHECK', { ...c, prevResult });
    expect(r.json).toMatchObject({
      code: 999,
      msg: expect.stringContaining('address 10.11.0.1/24 is not on interface eth0'),
    });
    const p = await inPod('CHECK', { ...c, prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.10.0.1/24' }] } });
    expect(p.json.msg).toContain('static: Failed to match addr 10.11.0.1 on interface eth0');
    ok(await inPod('CHECK', { ...conf({ addresses: [{ address: '10.10.0.1/24' }] }), prevResult }));
  });

  it('CHECK fails when the interface does not exist', async () => {
    const c = conf({ addresses: [{ address: '10.10.0.1/24' }] });
    const r = await inPod(
      'CHECK',
      { ...c, prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.10.0.1/24' }] } },
      'eth9',
    );
    expect(r.json.msg).toContain('interface eth9 not found');
  });

  it('GC and STATUS succeed (nothing is allocated)', async () => {
    ok(await run(ours.bin, 'GC', { ...conf({}), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }));
    ok(await run(ours.bin, 'STATUS', { ...conf({}), cniVersion: '1.1.0' }));
  });
});
