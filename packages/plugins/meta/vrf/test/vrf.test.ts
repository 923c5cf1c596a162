// vrf side by side with Debian's reference. The VRF cases need CONFIG_NET_VRF: they skip on a kernel without it
// (naming it) and run in the qemu kernel lane (`nx run kernel-lane:run`); here the refusal is tested instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, implementations, linksIn, probeLinkKind, sh } from '@tscni/testing/node';

const { missing, lacking: noVrf } = probeLinkKind('vrf');

interface Route {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
}
const routesOf = (pod: string, family: 4 | 6, table: string | number): string[] =>
  (
    JSON.parse(
      sh('ip', [`-${family}`, '-j', 'route', 'show', 'table', String(table)], { netns: pod }) || '[]',
    ) as Route[]
  )
    .filter((r) => (r.type ?? 'unicast') === 'unicast' && r.dev?.startsWith('eth') && !r.dev.endsWith('p'))
    .map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`);
const linkOf = (pod: string, name: string) =>
  linksIn(pod).find((l) => l.ifname === name) as
    | (ReturnType<typeof linksIn>[number] & { linkinfo?: { info_kind: string; info_data?: { table: number } } })
    | undefined;
const addrs = (pod: string, dev: string): string[] =>
  // (iproute2 6.1 prints lifetime-only entries for some addresses: skip those)
  JSON.parse(sh('ip', ['-j', 'addr', 'show', 'dev', dev, 'scope', 'global'], { netns: pod }))[0]
    .addr_info.filter((a: { local?: string }) => a.local)
    .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`);

/** `dev` (a veth whose peer stays in the pod) with an IPv4 and an IPv6 address and a route via a gateway for each. */
function addIface(pod: string, dev: string, n: number): void {
  sh('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`], { netns: pod });
  sh('ip', ['-batch', '-'], {
    netns: pod,
    input: [
      `link set ${dev}p up`,
      `link set ${dev} up`,
      `addr add 10.${n}.0.5/24 dev ${dev}`,
      `addr add fd${n}::5/64 dev ${dev} nodad`,
      `route add 10.${n + 50}.0.0/16 via 10.${n}.0.1`,
      `route add fd${n + 50}::/64 via fd${n}::1`,
      '',
    ].join('\n'),
  });
}
const prevResult = (pod: string, dev: string, n: number) => ({
  cniVersion: '1.0.0',
  interfaces: [{ name: dev, sandbox: pod }],
  ips: [
    { address: `10.${n}.0.5/24`, gateway: `10.${n}.0.1`, interface: 0 },
    { address: `fd${n}::5/64`, gateway: `fd${n}::1`, interface: 0 },
  ],
});

for (const impl of implementations('vrf')) {
  describe.skipIf(!!missing || !impl.present)(`vrf (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`, () => {
    let node: TestNode;
    let n = 0;
    beforeAll(() => (node = new TestNode('vrf')));
    afterAll(() => node?.destroy());

    const conf = (pod: string, dev = 'eth0', net = 20, extra: Record<string, unknown> = {}) => ({
      cniVersion: '1.0.0',
      name: 'vrfnet',
      type: 'vrf',
      vrfname: 'blue',
      ...extra,
      prevResult: prevResult(pod, dev, net),
    });
    // Debian's 1.1.1 predates moving the interface's routes via gateways into the VRF table (only ours and newer references do).
    const movesRoutes = impl.name === 'tscni';
    const run = (command: string, pod: string, c: unknown, dev = 'eth0') =>
      node.runPlugin(
        impl.bin,
        {
          CNI_COMMAND: command,
          CNI_CONTAINERID: `ctr-vrf-${n++}`,
          CNI_NETNS: pod,
          CNI_IFNAME: dev,
          CNI_PATH: '/usr/lib/cni',
        },
        c,
      );

    describe.skipIf(!noVrf)('on a kernel without VRF support', () => {
      it('ADD fails (ours naming CONFIG_NET_VRF) and leaves the interface, its addresses and routes as they were', async () => {
        const pod = node.addPod();
        addIface(pod, 'eth0', 20);
        const before = [routesOf(pod, 4, 'main'), routesOf(pod, 6, 'main'), addrs(pod, 'eth0')];
        const add = await run('ADD', pod, conf(pod));
        expect(add.code).toBe(1);
        if (impl.name === 'tscni') expect(add.json.msg).toContain('CONFIG_NET_VRF');
        expect(linkOf(pod, 'blue')).toBeUndefined();
        expect(linkOf(pod, 'eth0')!.master).toBeUndefined();
        expect([routesOf(pod, 4, 'main'), routesOf(pod, 6, 'main'), addrs(pod, 'eth0')]).toEqual(before);
        expect((await run('DEL', pod, conf(pod))).code).toBe(0);
      });
    });

    describe.skipIf(!!noVrf)(`with VRFs${noVrf ? ` — skipped: ${noVrf}` : ''}`, () => {
      it('ADD creates the VRF (first free table), enslaves the interface, keeps its addresses and moves its routes; CHECK; DEL removes the VRF', async () => {
        const pod = node.addPod();
        addIface(pod, 'eth0', 20);
        const c = conf(pod);
        const add = await run('ADD', pod, c);
        expect(add.code, add.stdout + add.stderr).toBe(0);
        const vrf = linkOf(pod, 'blue')!;
        expect(vrf.linkinfo!.info_kind).toBe('vrf');
        expect(vrf.linkinfo!.info_data!.table).toBe(1);
        expect(vrf.flags).toContain('UP');
        expect(linkOf(pod, 'eth0')!.master).toBe('blue');
        expect(addrs(pod, 'eth0').sort()).toEqual(['10.20.0.5/24', 'fd20::5/64']);
        expect(routesOf(pod, 4, 1)).toEqual(
          expect.arrayContaining([
            '10.20.0.0/24 dev eth0',
            ...(movesRoutes ? ['10.70.0.0/16 via 10.20.0.1 dev eth0'] : []),
          ]),
        );
        expect(routesOf(pod, 6, 1)).toEqual(
          expect.arrayContaining(['fd20::/64 dev eth0', ...(movesRoutes ? ['fd70::/64 via fd20::1 dev eth0'] : [])]),
        );
        expect(routesOf(pod, 4, 'main')).toEqual([]);
        expect((await run('CHECK', pod, c)).code).toBe(0);

        expect((await run('DEL', pod, c)).code).toBe(0);
        expect(linkOf(pod, 'blue')).toBeUndefined();
        expect(linkOf(pod, 'eth0')!.master).toBeUndefined();
        expect((await run('DEL', pod, c)).code).toBe(0);
      });

      it('a second interface joins the same VRF; the VRF stays until its last interface leaves', async () => {
        const pod = node.addPod();
        addIface(pod, 'eth0', 20);
        addIface(pod, 'eth1', 21);
        expect((await run('ADD', pod, conf(pod))).code).toBe(0);
        const second = await run('ADD', pod, conf(pod, 'eth1', 21), 'eth1');
        expect(second.code, second.stdout + second.stderr).toBe(0);
        expect(linkOf(pod, 'eth1')!.master).toBe('blue');
        expect(routesOf(pod, 4, 1)).toEqual(
          expect.arrayContaining(
            movesRoutes
              ? ['10.71.0.0/16 via 10.21.0.1 dev eth1', '10.70.0.0/16 via 10.20.0.1 dev eth0']
              : ['10.21.0.0/24 dev eth1', '10.20.0.0/24 dev eth0'],
          ),
        );
        expect((await run('DEL', pod, conf(pod))).code).toBe(0);
        expect(linkOf(pod, 'blue')).toBeDefined();
        expect((await run('DEL', pod, conf(pod, 'eth1', 21), 'eth1')).code).toBe(0);
        expect(linkOf(pod, 'blue')).toBeUndefined();
      });

      it('`table` is used for a new VRF; an existing VRF with another table is an error', async () => {
        const pod = node.addPod();
        addIface(pod, 'eth0', 20);
        addIface(pod, 'eth1', 21);
        expect((await run('ADD', pod, conf(pod, 'eth0', 20, { table: 42 }))).code).toBe(0);
        expect(linkOf(pod, 'blue')!.linkinfo!.info_data!.table).toBe(42);
        expect(routesOf(pod, 4, 42)).toContain(
          movesRoutes ? '10.70.0.0/16 via 10.20.0.1 dev eth0' : '10.20.0.0/24 dev eth0',
        );
        const clash = await run('ADD', pod, conf(pod, 'eth1', 21, { table: 43 }), 'eth1');
        expect(clash.code).toBe(1);
        expect(clash.json.msg).toContain('different routing table');
        expect(linkOf(pod, 'eth1')!.master).toBeUndefined();
      });

      it('an interface that already has a master is refused', async () => {
        const pod = node.addPod();
        addIface(pod, 'eth0', 20);
        sh('ip', ['link', 'add', 'br0', 'type', 'bridge'], { netns: pod });
        sh('ip', ['link', 'set', 'eth0', 'master', 'br0'], { netns: pod });
        const r = await run('ADD', pod, conf(pod));
        expect(r.code).toBe(1);
        expect(r.json.msg).toContain('already a master');
      });
    });

    it('ADD without prevResult or vrfname is refused', async () => {
      const pod = node.addPod();
      addIface(pod, 'eth0', 20);
      const noPrev = await run('ADD', pod, { cniVersion: '1.0.0', name: 'vrfnet', type: 'vrf', vrfname: 'blue' });
      expect(noPrev.code).toBe(1);
      expect(noPrev.json.msg).toContain('missing prevResult');
      const noName = await run('ADD', pod, { ...conf(pod), vrfname: undefined });
      expect(noName.code).toBe(1);
      expect(noName.json.msg).toContain('vrf name');
      expect(linkOf(pod, 'blue')).toBeUndefined();
    });

    it.skipIf(impl.name !== 'tscni')('DEL succeeds when the netns is gone', async () => {
      expect((await run('DEL', '/var/run/netns/no-such-vrf-ns', conf('/var/run/netns/no-such-vrf-ns'))).code).toBe(0);
    });
  });
}
