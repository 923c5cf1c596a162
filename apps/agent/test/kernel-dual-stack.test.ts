/**
 * The agent's kernel side on a dual-stack network and with vxlan's DirectRouting, in a throwaway node
 * namespace (no etcd): the IPv6 address of the external interface, `flannel-v6.1` beside `flannel.1`
 * with IPv6 routes, neighbours and FDB entries, direct routes for peers on the segment, host-gw IPv6
 * routes and the IPv6 masquerade rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCIDR, setRunner, spawnRunner, type CommandRunner } from '@tscni/net/host';
import { TestNode, missingForKernelTests, missingLinkKind } from '@tscni/testing/node';
import { VxlanBackend } from '../src/backend/vxlan';
import { HostGwBackend } from '../src/backend/host-gw';
import { findExternalIface, ipv6Of } from '../src/iface';
import { applyMasq, removeMasq, type MasqSpec } from '../src/ipmasq';
import { parseNetworkConfig } from '../src/network';
import { makeAttrs, type Lease } from '../src/lease';

const missing = missingForKernelTests(['ip', 'nsenter']) ?? missingLinkKind('vxlan');

const DUAL = (backend: string, extra = '') =>
  `{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"${backend}"${extra}}}`;

/** A dual-stack peer n: 10.244.n.0/24 & fd00:10:244:n::/64, public IPs `ip4`/`ip6`, MACs 02:..:0n / 06:..:0n. */
const peer = (n: number, ip4: string, ip6: string, backend: 'vxlan' | 'host-gw' = 'vxlan'): Lease => ({
  subnet: parseCIDR(`10.244.${n}.0/24`)!,
  subnet6: parseCIDR(`fd00:10:244:${n}::/64`)!,
  attrs:
    backend === 'vxlan'
      ? makeAttrs(ip4, 'vxlan', { VNI: 1, VtepMAC: `02:00:00:00:00:0${n}` }, ip6, {
          VNI: 1,
          VtepMAC: `06:00:00:00:00:0${n}`,
        })
      : makeAttrs(ip4, 'host-gw', null, ip6),
  revision: '1',
  etcdLease: '0',
});

describe.skipIf(!!missing)(
  `the agent's kernel side, dual-stack and DirectRouting${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let restore: CommandRunner;
    const json = (args: string[]) => JSON.parse(node.exec(args[0], args.slice(1)));
    const routes = (fam: 4 | 6, dev: string) =>
      Object.fromEntries(
        (json(['ip', '-j', `-${fam}`, 'route', 'show', 'dev', dev]) as { dst: string; gateway?: string }[])
          .filter((r) => r.gateway && /^(10\.244\.|fd00:10:244:)/.test(r.dst))
          .map((r) => [r.dst, r.gateway]),
      );

    beforeAll(() => {
      node = new TestNode('agd');
      // eth0 on the segment 198.18.0.0/24 and fd00:198:18::/64, a gateway behind which other nodes live.
      node.exec('ip', ['-batch', '-'], {
        input:
          'link add eth0 type veth peer name eth0p\nlink set eth0p up\naddr add 198.18.0.11/24 dev eth0\naddr add fd00:198:18::11/64 dev eth0 nodad\nlink set eth0 up\n',
      });
      node.exec('ip', ['-batch', '-'], {
        input: 'route add 203.0.113.0/24 via 198.18.0.1\nroute add 2001:db8::/32 via fd00:198:18::1\n',
      });
      restore = setRunner((cmd, args, opts) => spawnRunner(cmd, args, { ...opts, netns: node.path }));
    });
    afterAll(() => {
      if (restore) setRunner(restore);
      node?.destroy();
    });

    it('finds the interface’s global IPv6 address (the v6 VTEP’s local end), and takes -public-ipv6 as given', async () => {
      const ext = await findExternalIface(['eth0']);
      expect(await ipv6Of(ext)).toMatchObject({
        name: 'eth0',
        ifaceAddr6: 'fd00:198:18::11',
        publicIp6: 'fd00:198:18::11',
      });
      expect(await ipv6Of(ext, '2001:db8::9')).toMatchObject({
        ifaceAddr6: 'fd00:198:18::11',
        publicIp6: '2001:db8::9',
      });
      await expect(ipv6Of(ext, '198.18.0.11')).rejects.toThrow(/-public-ipv6 "198.18.0.11" is not an IPv6 address/);
    });

    it('vxlan, dual-stack: flannel-v6.1 beside flannel.1; each peer’s IPv6 subnet routed onlink via its first address, neighbour and FDB to its PublicIPv6', async () => {
      const cfg = parseNetworkConfig(DUAL('vxlan'));
      const b = new VxlanBackend(cfg, await ipv6Of(await findExternalIface(['eth0'])));
      const { data, data6, mtu } = await b.init();
      expect(mtu).toBe(1450);
      await b.setLocalSubnet(parseCIDR('10.244.1.0/24')!, parseCIDR('fd00:10:244:1::/64')!);
      const dev6 = json(['ip', '-j', '-d', '-6', 'addr', 'show', 'dev', 'flannel-v6.1'])[0];
      expect(dev6.linkinfo.info_data).toMatchObject({ id: 1, local6: 'fd00:198:18::11', port: 8472, learning: false });
      expect(dev6.mtu).toBe(1430);
      expect(dev6.address).toBe(data6!.VtepMAC);
      expect(dev6.address).not.toBe(data!.VtepMAC);
      expect(
        dev6.addr_info
          .filter((a: { scope: string }) => a.scope === 'global')
          .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`),
      ).toEqual(['fd00:10:244:1::/128']);

      const p2 = peer(2, '198.18.0.12', 'fd00:198:18::12');
      const p3 = peer(3, '198.18.0.13', 'fd00:198:18::13');
      await b.sync([p2, p3]);
      expect(routes(4, 'flannel.1')).toEqual({ '10.244.2.0/24': '10.244.2.0', '10.244.3.0/24': '10.244.3.0' });
      expect(routes(6, 'flannel-v6.1')).toEqual({
        'fd00:10:244:2::/64': 'fd00:10:244:2::',
        'fd00:10:244:3::/64': 'fd00:10:244:3::',
      });
      expect(json(['ip', '-j', '-6', 'neigh', 'show', 'dev', 'flannel-v6.1'])).toContainEqual(
        expect.objectContaining({ dst: 'fd00:10:244:2::', lladdr: '06:00:00:00:00:02', state: ['PERMANENT'] }),
      );
      expect(json(['bridge', '-j', 'fdb', 'show', 'dev', 'flannel-v6.1'])).toContainEqual(
        expect.objectContaining({ mac: '06:00:00:00:00:03', dst: 'fd00:198:18::13' }),
      );
      expect((await b.sync([p2, p3])).changes).toEqual([]);
      // The kernel's own route of the device's address stays.
      expect(node.exec('ip', ['-6', 'route', 'show', 'dev', 'flannel-v6.1'])).toContain('fd00:10:244:1::');

      await b.sync([p3]);
      expect(routes(6, 'flannel-v6.1')).toEqual({ 'fd00:10:244:3::/64': 'fd00:10:244:3::' });
      expect(
        json(['bridge', '-j', 'fdb', 'show', 'dev', 'flannel-v6.1']).filter((f: { dst?: string }) => f.dst),
      ).toEqual([expect.objectContaining({ mac: '06:00:00:00:00:03' })]);
      await b.teardown();
      expect(node.exec('ip', ['-j', 'link', 'show'])).not.toMatch(/flannel/);
    });

    it('vxlan DirectRouting: peers on the segment routed via their public IPs on eth0, the others through the VXLAN devices; a peer that moves switches', async () => {
      const cfg = parseNetworkConfig(DUAL('vxlan', ',"DirectRouting":true'));
      expect(cfg.backend.directRouting).toBe(true);
      const b = new VxlanBackend(cfg, await ipv6Of(await findExternalIface(['eth0'])));
      await b.init();
      await b.setLocalSubnet(parseCIDR('10.244.1.0/24')!, parseCIDR('fd00:10:244:1::/64')!);
      const near = peer(2, '198.18.0.12', 'fd00:198:18::12');
      const far = peer(3, '203.0.113.7', '2001:db8::7');
      await b.sync([near, far]);
      expect(routes(4, 'eth0')).toEqual({ '10.244.2.0/24': '198.18.0.12' });
      expect(routes(6, 'eth0')).toEqual({ 'fd00:10:244:2::/64': 'fd00:198:18::12' });
      expect(routes(4, 'flannel.1')).toEqual({ '10.244.3.0/24': '10.244.3.0' });
      expect(routes(6, 'flannel-v6.1')).toEqual({ 'fd00:10:244:3::/64': 'fd00:10:244:3::' });
      expect(json(['bridge', '-j', 'fdb', 'show', 'dev', 'flannel.1']).filter((f: { dst?: string }) => f.dst)).toEqual([
        expect.objectContaining({ mac: '02:00:00:00:00:03', dst: '203.0.113.7' }),
      ]);

      // The far peer moves onto the segment, the near one away from it.
      await b.sync([peer(2, '203.0.113.8', '2001:db8::8'), peer(3, '198.18.0.13', 'fd00:198:18::13')]);
      expect(routes(4, 'eth0')).toEqual({ '10.244.3.0/24': '198.18.0.13' });
      expect(routes(6, 'eth0')).toEqual({ 'fd00:10:244:3::/64': 'fd00:198:18::13' });
      expect(routes(4, 'flannel.1')).toEqual({ '10.244.2.0/24': '10.244.2.0' });
      expect(routes(6, 'flannel-v6.1')).toEqual({ 'fd00:10:244:2::/64': 'fd00:10:244:2::' });
      await b.teardown();
      expect(routes(4, 'eth0')).toEqual({});
      expect(routes(6, 'eth0')).toEqual({});
    });

    it('host-gw, dual-stack: IPv6 subnets via the peers’ PublicIPv6 on eth0; one behind a gateway refused', async () => {
      const b = new HostGwBackend(parseNetworkConfig(DUAL('host-gw')), await ipv6Of(await findExternalIface(['eth0'])));
      const r = await b.sync([
        peer(2, '198.18.0.12', 'fd00:198:18::12', 'host-gw'),
        peer(4, '198.18.0.14', '2001:db8::4', 'host-gw'),
      ]);
      expect(r.refused).toEqual([
        {
          subnet: 'fd00:10:244:4::/64',
          publicIP: '2001:db8::4',
          reason:
            'host-gw needs every node on one L2 segment, but 2001:db8::4 is reached through the gateway fd00:198:18::1',
        },
      ]);
      expect(routes(4, 'eth0')).toEqual({ '10.244.2.0/24': '198.18.0.12', '10.244.4.0/24': '198.18.0.14' });
      expect(routes(6, 'eth0')).toEqual({ 'fd00:10:244:2::/64': 'fd00:198:18::12' });
      await b.teardown();
      expect(routes(6, 'eth0')).toEqual({});
    });

    it('-ip-masq on a dual-stack network: flanneld’s chains in ip6tables too, removed exactly', async () => {
      const spec: MasqSpec = {
        network: parseCIDR('10.244.0.0/16')!,
        subnet: parseCIDR('10.244.1.0/24')!,
        ipv6: { network: parseCIDR('fd00:10:244::/56')!, subnet: parseCIDR('fd00:10:244:1::/64')! },
        masq: true,
        forward: true,
      };
      await applyMasq('iptables', spec);
      await applyMasq('iptables', spec);
      const nat6 = node.exec('ip6tables-save', ['-t', 'nat']);
      expect(nat6.split('\n').filter((l) => l.startsWith('-A POSTROUTING'))).toEqual([
        '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
      ]);
      expect(nat6).toContain(
        '-A FLANNEL-POSTRTG -s fd00:10:244:1::/64 -d fd00:10:244::/56 -m comment --comment "flanneld masq" -j RETURN',
      );
      expect(nat6).toContain(
        '-A FLANNEL-POSTRTG -s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      );
      expect(node.exec('ip6tables-save', ['-t', 'filter'])).toContain(
        '-A FLANNEL-FWD -d fd00:10:244::/56 -m comment --comment "flanneld forward" -j ACCEPT',
      );
      expect(node.exec('iptables-save', ['-t', 'nat'])).toContain(
        '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4',
      );
      await removeMasq('iptables', spec);
      expect(node.exec('ip6tables-save', [])).not.toMatch(/FLANNEL|flanneld/);
      expect(node.exec('iptables-save', [])).not.toMatch(/FLANNEL|flanneld/);
    });

    it('-ip-masq with nftables on a dual-stack network: tables ip flannel-ipv4 and ip6 flannel-ipv6', async () => {
      const spec: MasqSpec = {
        network: parseCIDR('10.244.0.0/16')!,
        subnet: parseCIDR('10.244.1.0/24')!,
        ipv6: { network: parseCIDR('fd00:10:244::/56')!, subnet: parseCIDR('fd00:10:244:1::/64')! },
        masq: true,
        forward: true,
      };
      await applyMasq('nftables', spec);
      expect(node.exec('nft', ['list', 'table', 'ip6', 'flannel-ipv6'])).toContain(
        'ip6 saddr fd00:10:244:1::/64 ip6 daddr fd00:10:244::/56 return',
      );
      await removeMasq('nftables', spec);
      expect(node.exec('nft', ['list', 'tables'])).not.toMatch(/flannel-ipv[46]/);
    });
  },
);
