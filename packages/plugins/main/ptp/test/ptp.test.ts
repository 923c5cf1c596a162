import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addOutside,
  binDir,
  hostVeths,
  implementations,
  leases,
  missingForKernelTests,
  netfilterRulesets,
  nftMasqRules,
  pings,
  podLink,
  rulesOf,
  sh,
  TestNode,
  toolLog,
  uniqueName,
  type PluginRun,
} from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'nft', 'ping']);
const impls = implementations('ptp');

for (const impl of impls) {
  const other = impls.find((i) => i !== impl)!;
  const ours = impl.name === 'tscni';
  describe.skipIf(!!missing || !impl.present)(`ptp (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`, () => {
    let node: TestNode;
    let cniPath: string;
    let dataDir: string;
    let seq = 0;
    beforeAll(() => {
      node = new TestNode('ptp');
      cniPath = binDir(node.tmp, { 'host-local': 'auto' });
      dataDir = join(node.tmp, 'ipam');
      addOutside(node);
    });
    afterAll(() => node?.destroy());

    const net = (extra: Record<string, unknown> = {}, opts: { v6?: boolean } = {}) => {
      const n = ++seq;
      const ranges: unknown[] = [[{ subnet: `10.63.${n}.0/24` }]];
      if (opts.v6) ranges.push([{ subnet: `fd63:${n.toString(16)}::/64` }]);
      return {
        cniVersion: '1.0.0',
        name: `ptp${n}`,
        type: 'ptp',
        ipam: { type: 'host-local', dataDir, ranges, routes: [{ dst: '0.0.0.0/0' }] },
        ...extra,
      } as Record<string, any>;
    };
    const env = (command: string, netns: string, cid: string) => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: cid,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
      CNI_PATH: cniPath,
    });
    const run = (bin: string, command: string, conf: unknown, netns: string, cid: string, path?: string) =>
      node.runPlugin(bin, { ...env(command, netns, cid), ...(path ? { PATH: path } : {}) }, conf);
    /** The backend an ADD recorded for the attachment (ipmasq-state.ts). */
    const recorded = (network: string, id: string): string | undefined => {
      const file = join(node.ipMasqStateDir, network, `${id}:eth0`);
      return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).backend : undefined;
    };
    const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);
    const routes = (netns: string, family: 4 | 6) =>
      JSON.parse(sh('ip', ['-j', `-${family}`, 'route', 'show'], { netns }) || '[]') as {
        dst: string;
        gateway?: string;
        dev: string;
        scope?: string;
      }[];

    for (const version of impl.versions.filter((v) => v >= '0.3.0')) {
      it(`ADD, CHECK, DEL at ${version}: host veth + sandboxed eth0, ips on interface 1; nothing left after DEL`, async () => {
        const conf: Record<string, any> = { ...net({ mtu: 1400 }), cniVersion: version };
        const pod = node.addPod();
        const id = uniqueName('c');
        const vethsBefore = hostVeths(node);
        const add = await run(impl.bin, 'ADD', conf, pod, id);
        ok(add);
        const r = add.json;
        expect(r.cniVersion).toBe(version);
        expect(r.interfaces).toEqual([
          { name: expect.stringMatching(/^veth[0-9a-f]{8}$/), mac: expect.any(String) },
          { name: 'eth0', mac: podLink(pod)!.address, sandbox: pod },
        ]);
        expect(r.ips[0]).toMatchObject({ address: `10.63.${seq}.2/24`, gateway: `10.63.${seq}.1`, interface: 1 });
        expect(podLink(pod)!.mtu).toBe(1400);
        if (version >= '0.4.0') ok(await run(impl.bin, 'CHECK', { ...conf, prevResult: r }, pod, id));
        ok(await run(impl.bin, 'DEL', { ...conf, prevResult: r }, pod, id));
        expect(podLink(pod)).toBeUndefined();
        expect(hostVeths(node)).toEqual(vethsBefore);
        expect(leases(dataDir, conf.name)).toEqual([]);
      });
    }

    it('point-to-point layout: gateway /32 on the host veth, host route to the pod, pod routes via the gateway', async () => {
      const conf = net({}, { v6: true });
      const pod = node.addPod();
      const add = await run(impl.bin, 'ADD', conf, pod, uniqueName('c'));
      ok(add);
      const hostVeth = add.json.interfaces[0].name;
      const hostAddrs = JSON.parse(node.exec('ip', ['-j', 'addr', 'show', 'dev', hostVeth]))[0]
        .addr_info.filter((a: any) => a.scope === 'global')
        .map((a: any) => `${a.local}/${a.prefixlen}`);
      expect(hostAddrs).toEqual(expect.arrayContaining([`10.63.${seq}.1/32`, `fd63:${seq.toString(16)}::1/128`]));
      expect(routes(node.path, 4)).toEqual(
        expect.arrayContaining([expect.objectContaining({ dst: `10.63.${seq}.2`, dev: hostVeth })]),
      );
      expect(routes(node.path, 6)).toEqual(
        expect.arrayContaining([expect.objectContaining({ dst: `fd63:${seq.toString(16)}::2`, dev: hostVeth })]),
      );
      const podRoutes = routes(pod, 4);
      expect(podRoutes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ dst: 'default', gateway: `10.63.${seq}.1` }),
          expect.objectContaining({ dst: `10.63.${seq}.0/24`, gateway: `10.63.${seq}.1` }),
          expect.objectContaining({ dst: `10.63.${seq}.1`, scope: 'link' }),
        ]),
      );
      expect(podRoutes.filter((rt) => rt.dst === `10.63.${seq}.0/24` && !rt.gateway)).toEqual([]);
      expect(routes(pod, 6)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ dst: `fd63:${seq.toString(16)}::/64`, gateway: `fd63:${seq.toString(16)}::1` }),
        ]),
      );
    });

    it('pods ping each other (v4 and v6) through the node and reach the outside through the masquerade', async () => {
      const conf = net({ ipMasq: true }, { v6: true });
      const [p1, p2] = [node.addPod(), node.addPod()];
      const [id1, id2] = [uniqueName('c'), uniqueName('c')];
      const a1 = await run(impl.bin, 'ADD', conf, p1, id1);
      ok(a1);
      ok(await run(impl.bin, 'ADD', conf, p2, id2));
      expect(pings(p1, `10.63.${seq}.3`)).toBe(true);
      expect(pings(p1, `fd63:${seq.toString(16)}::3`, 4)).toBe(true);
      expect(pings(p1, '198.51.100.2')).toBe(true);
      expect(rulesOf(node, id1, 4)).toHaveLength(3);
      expect(rulesOf(node, id1, 6)).toHaveLength(3);
      ok(await run(impl.bin, 'DEL', { ...conf, prevResult: a1.json }, p1, id1));
      expect([...rulesOf(node, id1, 4), ...rulesOf(node, id1, 6)]).toEqual([]);
      expect(rulesOf(node, id2, 4)).toHaveLength(3);
    });

    it.skipIf(!other.present)(`masquerade rules of this ADD are torn down by the ${other.name} DEL`, async () => {
      const conf = net({ ipMasq: true });
      const pod = node.addPod();
      const id = uniqueName('c');
      ok(await run(impl.bin, 'ADD', conf, pod, id));
      ok(await run(other.bin, 'DEL', conf, pod, id));
      expect(rulesOf(node, id)).toEqual([]);
      expect(leases(dataDir, conf.name)).toEqual([]);
    });

    it('CNI_IFNAME already present in the pod: ADD fails after IPAM and releases the lease', async () => {
      const conf = net();
      const pod = node.addPod();
      sh('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0'], { netns: pod });
      const vethsBefore = hostVeths(node);
      const add = await run(impl.bin, 'ADD', conf, pod, uniqueName('c'));
      expect(add.code).toBe(1);
      expect(add.json.msg).toContain('eth0');
      expect(leases(dataDir, conf.name)).toEqual([]);
      expect(hostVeths(node)).toEqual(vethsBefore);
    });

    it('DEL succeeds when the netns is gone and when repeated; IPAM is released', async () => {
      const conf = net({ ipMasq: true });
      const pod = node.addPod();
      const id = uniqueName('c');
      ok(await run(impl.bin, 'ADD', conf, pod, id));
      sh('ip', ['netns', 'delete', pod.split('/').pop()!]);
      ok(await run(impl.bin, 'DEL', conf, pod, id));
      ok(await run(impl.bin, 'DEL', conf, pod, id));
      expect(leases(dataDir, conf.name)).toEqual([]);
      if (ours) expect(rulesOf(node, id)).toEqual([]); // the reference needs the link to find the IPs
    });

    it('dns from the config wins over IPAM', async () => {
      const conf = net({ dns: { nameservers: ['192.0.2.53'], search: ['example.test'] } });
      const add = await run(impl.bin, 'ADD', conf, node.addPod(), uniqueName('c'));
      ok(add);
      expect(add.json.dns).toMatchObject({ nameservers: ['192.0.2.53'], search: ['example.test'] });
    });

    it.runIf(ours)('ipMasqBackend nftables, GC of stale attachments, STATUS', async () => {
      const conf: Record<string, any> = { ...net({ ipMasq: true, ipMasqBackend: 'nftables' }), cniVersion: '1.1.0' };
      const [keep, drop] = [uniqueName('c'), uniqueName('c')];
      const pk = node.addPod();
      ok(await run(impl.bin, 'ADD', conf, pk, keep));
      ok(await run(impl.bin, 'ADD', conf, node.addPod(), drop));
      expect(nftMasqRules(node, keep)).toHaveLength(1);
      expect(pings(pk, '198.51.100.2')).toBe(true);
      ok(
        await node.runPlugin(
          impl.bin,
          { CNI_COMMAND: 'GC', CNI_PATH: cniPath },
          { ...conf, 'cni.dev/valid-attachments': [{ containerID: keep, ifname: 'eth0' }] },
        ),
      );
      expect(nftMasqRules(node, keep)).toHaveLength(1);
      expect(nftMasqRules(node, drop)).toEqual([]);
      expect(leases(dataDir, conf.name)).toEqual([`10.63.${seq}.2`]);
      expect([recorded(conf.name, keep), recorded(conf.name, drop)]).toEqual(['nftables', undefined]);
      ok(await node.runPlugin(impl.bin, { CNI_COMMAND: 'STATUS', CNI_PATH: cniPath }, conf));
      ok(await run(impl.bin, 'DEL', conf, pk, keep));
      expect(nftMasqRules(node, keep)).toEqual([]);
      expect(recorded(conf.name, keep)).toBeUndefined();
    });

    it.runIf(ours)('the DEL after an nftables ADD runs no iptables tool, whatever the config says now', async () => {
      const conf = net({ ipMasq: true, ipMasqBackend: 'nftables' }, { v6: true });
      const log = toolLog(join(node.tmp, 'tools'));
      const [pod, id] = [node.addPod(), uniqueName('c')];
      // The table, chains and hooks a first rule leaves behind in each backend.
      for (const ipMasqBackend of ['iptables', 'nftables']) {
        ok(await run(impl.bin, 'ADD', { ...conf, ipMasqBackend }, pod, id));
        ok(await run(impl.bin, 'DEL', { ...conf, ipMasqBackend }, pod, id));
      }
      const before = netfilterRulesets(node);
      const add = await run(impl.bin, 'ADD', conf, pod, id);
      ok(add);
      expect(recorded(conf.name, id)).toBe('nftables');
      log.clear();
      ok(await run(impl.bin, 'DEL', { ...conf, ipMasqBackend: 'iptables', prevResult: add.json }, pod, id, log.path));
      expect(log.tools()).toEqual(['nft', 'nft']);
      expect(nftMasqRules(node, id)).toEqual([]);
      expect(netfilterRulesets(node)).toEqual(before);
      expect(recorded(conf.name, id)).toBeUndefined();
      expect(leases(dataDir, conf.name)).toEqual([]);
    });

    it.runIf(ours)('config errors name the field', async () => {
      const noIpam = await run(
        impl.bin,
        'ADD',
        { cniVersion: '1.0.0', name: 'x', type: 'ptp' },
        node.addPod(),
        uniqueName('c'),
      );
      expect(noIpam.json).toMatchObject({ code: 7 });
      expect(noIpam.json.msg).toContain('ipam');
      const badMtu = await run(impl.bin, 'ADD', net({ mtu: -1 }), node.addPod(), uniqueName('c'));
      expect(badMtu.json).toMatchObject({ code: 7 });
      expect(badMtu.json.msg).toContain('mtu');
    });
  });
}
