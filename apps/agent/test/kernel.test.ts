/**
 * The agent's kernel side in a throwaway node namespace (no etcd): the vxlan and host-gw backends
 * programming peers and healing, and the -ip-masq rules with iptables and with nftables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCIDR, setRunner, spawnRunner, type CommandRunner } from '@tscni/net/host';
import { TestNode, missingForKernelTests, missingLinkKind } from '@tscni/testing/node';
import { VxlanBackend } from '../src/backend/vxlan';
import { HostGwBackend } from '../src/backend/host-gw';
import { findExternalIface } from '../src/iface';
import { applyMasq, removeMasq, type MasqSpec } from '../src/ipmasq';
import { parseNetworkConfig } from '../src/network';
import type { Lease } from '../src/lease';

const missing = missingForKernelTests(['ip', 'nsenter']) ?? missingLinkKind('vxlan');

const lease = (subnet: string, publicIP: string, mac?: string): Lease => ({
  subnet: parseCIDR(subnet)!,
  attrs: mac
    ? { PublicIP: publicIP, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } }
    : { PublicIP: publicIP, BackendType: 'host-gw', BackendData: null },
  revision: '1',
  etcdLease: '0',
});

describe.skipIf(!!missing)(`the agent's kernel side${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  let restore: CommandRunner;
  const json = (args: string[]) => JSON.parse(node.exec(args[0], args.slice(1)));

  beforeAll(() => {
    node = new TestNode('agk');
    // eth0 (198.18.0.11/24) with its peer end in the same namespace: an interface that is up.
    node.exec('ip', ['-batch', '-'], {
      input:
        'link add eth0 type veth peer name eth0p\nlink set eth0p up\naddr add 198.18.0.11/24 dev eth0\nlink set eth0 up\n',
    });
    // The agent runs inside the node's namespace: every command it spawns goes there.
    restore = setRunner((cmd, args, opts) => spawnRunner(cmd, args, { ...opts, netns: node.path }));
  });
  afterAll(() => {
    if (restore) setRunner(restore);
    node?.destroy();
  });

  it('finds the external interface by name or by address, and its MTU', async () => {
    expect(await findExternalIface(['nope0', 'eth0'])).toMatchObject({
      name: 'eth0',
      ifaceAddr: '198.18.0.11',
      publicIp: '198.18.0.11',
      mtu: 1500,
    });
    expect(await findExternalIface(['198.18.0.11'], '203.0.113.9')).toMatchObject({
      name: 'eth0',
      publicIp: '203.0.113.9',
    });
    await expect(findExternalIface([])).rejects.toThrow(/no default route: name the external interface with -iface/);
  });

  it('vxlan: creates flannel.1, programs each peer (route onlink, permanent neighbour, FDB), follows changes and removals, keeps its MAC on restart', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    const ext = await findExternalIface(['eth0']);
    const b = new VxlanBackend(cfg, ext);
    const { data, mtu } = await b.init();
    expect(mtu).toBe(1450);
    await b.setLocalSubnet(parseCIDR('10.244.1.0/24')!);
    const dev = json(['ip', '-j', '-d', '-4', 'addr', 'show', 'dev', 'flannel.1'])[0];
    expect(dev.linkinfo.info_data).toMatchObject({ id: 1, local: '198.18.0.11', port: 8472, learning: false });
    expect(dev.addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`)).toEqual([
      '10.244.1.0/32',
    ]);

    const a = lease('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:02');
    const c = lease('10.244.3.0/24', '198.18.0.13', '02:00:00:00:00:03');
    let r = await b.sync([a, c]);
    expect(r.programmed).toBe(2);
    expect(json(['ip', '-j', 'route', 'show', 'dev', 'flannel.1'])).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: '10.244.2.0/24', gateway: '10.244.2.0', flags: ['onlink'] }),
        expect.objectContaining({ dst: '10.244.3.0/24', gateway: '10.244.3.0' }),
      ]),
    );
    expect(json(['ip', '-j', 'neigh', 'show', 'dev', 'flannel.1'])).toContainEqual(
      expect.objectContaining({ dst: '10.244.2.0', lladdr: '02:00:00:00:00:02', state: ['PERMANENT'] }),
    );
    expect(json(['bridge', '-j', 'fdb', 'show', 'dev', 'flannel.1'])).toContainEqual(
      expect.objectContaining({ mac: '02:00:00:00:00:03', dst: '198.18.0.13' }),
    );
    expect((await b.sync([a, c])).changes).toEqual([]); // nothing to do twice

    // c moves to another public IP, a leaves, a stray route of the cluster network appears.
    node.exec('ip', ['route', 'add', '10.244.9.0/24', 'via', '10.244.9.0', 'dev', 'flannel.1', 'onlink']);
    const moved = lease('10.244.3.0/24', '198.18.0.23', '02:00:00:00:00:03');
    r = await b.sync([moved]);
    expect(r.changes).toEqual(
      expect.arrayContaining([
        'route del 10.244.2.0/24 via 10.244.2.0',
        'route del 10.244.9.0/24 via 10.244.9.0',
        'fdb del 02:00:00:00:00:03 dst 198.18.0.13',
        'fdb append 02:00:00:00:00:03 dst 198.18.0.23',
      ]),
    );
    expect(json(['ip', '-j', 'route', 'show', 'dev', 'flannel.1']).map((x: { dst: string }) => x.dst)).toEqual([
      '10.244.3.0/24',
    ]);
    expect(json(['bridge', '-j', 'fdb', 'show', 'dev', 'flannel.1']).filter((f: { dst?: string }) => f.dst)).toEqual([
      expect.objectContaining({ mac: '02:00:00:00:00:03', dst: '198.18.0.23' }),
    ]);
    expect(json(['ip', '-j', 'neigh', 'show', 'dev', 'flannel.1']).map((n: { dst: string }) => n.dst)).toEqual([
      '10.244.3.0',
    ]);

    // A restart adopts the device: same MAC, routes untouched.
    const again = await new VxlanBackend(cfg, ext).init();
    expect(again.data).toEqual(data);
    expect(json(['ip', '-j', 'route', 'show', 'dev', 'flannel.1'])).toHaveLength(1);
    await b.teardown();
    expect(node.exec('ip', ['-j', 'link', 'show'])).not.toContain('flannel.1');
  });

  it('host-gw: routes peers on the segment via their public IP, refuses one behind a gateway, removes what no lease explains', async () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}');
    node.exec('ip', ['route', 'add', '203.0.113.0/24', 'via', '198.18.0.1']);
    const b = new HostGwBackend(cfg, await findExternalIface(['eth0']));
    const r = await b.sync([lease('10.244.2.0/24', '198.18.0.12'), lease('10.244.7.0/24', '203.0.113.7')]);
    expect(r.programmed).toBe(1);
    expect(r.refused).toEqual([
      {
        subnet: '10.244.7.0/24',
        publicIP: '203.0.113.7',
        reason: 'host-gw needs every node on one L2 segment, but 203.0.113.7 is reached through the gateway 198.18.0.1',
      },
    ]);
    const routes = () =>
      json(['ip', '-j', 'route', 'show', 'dev', 'eth0']).filter((x: { dst: string }) => x.dst.startsWith('10.244.'));
    expect(routes()).toEqual([expect.objectContaining({ dst: '10.244.2.0/24', gateway: '198.18.0.12' })]);
    await b.sync([lease('10.244.2.0/24', '198.18.0.14')]);
    expect(routes()).toEqual([expect.objectContaining({ dst: '10.244.2.0/24', gateway: '198.18.0.14' })]);
    await b.teardown();
    expect(routes()).toEqual([]);
  });

  const spec: MasqSpec = {
    network: parseCIDR('10.244.0.0/16')!,
    subnet: parseCIDR('10.244.1.0/24')!,
    masq: true,
    forward: true,
  };

  it('-ip-masq with iptables: flanneld’s chains and rules, applied twice without duplicates, removed exactly', async () => {
    await applyMasq('iptables', spec);
    await applyMasq('iptables', spec);
    const nat = node.exec('iptables-save', ['-t', 'nat']);
    expect(nat.split('\n').filter((l) => l.startsWith('-A POSTROUTING'))).toEqual([
      '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
    ]);
    expect(nat.split('\n').filter((l) => l.startsWith('-A FLANNEL-POSTRTG'))).toEqual([
      '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
    ]);
    expect(node.exec('iptables-save', ['-t', 'filter'])).toContain(
      '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
    );
    await removeMasq('iptables', spec);
    await removeMasq('iptables', spec);
    expect(node.exec('iptables-save', [])).not.toMatch(/FLANNEL|flanneld/);
  });

  it('-ip-masq with nftables (no iptables): table ip flannel-ipv4, replaced atomically, removed', async () => {
    await applyMasq('nftables', spec);
    await applyMasq('nftables', { ...spec, subnet: parseCIDR('10.244.5.0/24')! });
    const text = node.exec('nft', ['list', 'table', 'ip', 'flannel-ipv4']);
    expect(text).toContain('ip saddr 10.244.5.0/24 ip daddr 10.244.0.0/16 return');
    expect(text).not.toContain('10.244.1.0/24');
    expect(text).toMatch(/ip saddr 10\.244\.0\.0\/16 ip daddr != 224\.0\.0\.0\/4 masquerade fully-random/);
    expect(text).toContain('type nat hook postrouting priority srcnat');
    await removeMasq('nftables', spec);
    expect(node.exec('nft', ['list', 'tables'])).not.toContain('flannel-ipv4');
  });
});
