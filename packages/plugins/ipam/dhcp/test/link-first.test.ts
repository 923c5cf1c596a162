/**
 * dhcp behind the tscni bridge and host-device: both make (or move) the pod link before IPAM ADD, the
 * reference's order, so the lease daemon can talk DHCP through it; a failed IPAM takes the link away again.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, TestNode, addrsIn, linksIn, missingForKernelTests, sh, uniqueName } from '@tscni/testing/node';
import { BRIDGE, BRIDGE_SERVER_IP, Daemon, Lan, hexClientID, until } from './lan';

const missing = missingForKernelTests(['ip', 'nsenter', 'dnsmasq']);

describe.skipIf(!!missing)(
  `dhcp behind the tscni bridge and host-device${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let lan: Lan;
    let daemon: Daemon;
    const ourBridge = join(DIST_BIN, 'bridge');
    const ourHostDevice = join(DIST_BIN, 'host-device');

    beforeAll(async () => {
      node = new TestNode('dl');
      lan = new Lan(node);
      await lan.startDnsmasq('link-first');
      daemon = new Daemon(node, join(DIST_BIN, 'dhcp'), join(node.tmp, 'dhcp.sock'), [
        '-statedir',
        join(node.tmp, 'leases.d'),
        '-timeout',
        '3s',
        '-resendtimeout',
        '10s',
      ]);
      await daemon.start();
    });
    afterAll(async () => {
      await daemon?.stop();
      lan?.stopServers();
      node?.destroy();
    });

    const env = (command: string, cid: string, netns: string) => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: cid,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
      CNI_PATH: DIST_BIN,
    });
    const ipam = (socket = daemon.socketPath) => ({ type: 'dhcp', daemonSocketPath: socket });
    const bridgeConf = (socket?: string) => ({
      cniVersion: '1.1.0',
      name: 'lan',
      type: 'bridge',
      bridge: BRIDGE,
      ipam: ipam(socket),
    });
    const leaseOf = (cid: string) => lan.leases().find((row) => row[4] === hexClientID(`${cid}/lan/eth0`));
    const bridgePorts = () =>
      linksIn(node.path)
        .filter((l) => l.master === BRIDGE)
        .map((l) => l.ifname);
    /** A veth pair whose peer is a port of the LAN bridge: `dev` reaches dnsmasq on the bridged segment. */
    const deviceOnBridge = (): string => {
      const dev = uniqueName('hd').slice(-12);
      node.exec('ip', ['-batch', '-'], {
        input: `link add ${dev} type veth peer name ${dev}p\nlink set ${dev}p master ${BRIDGE}\nlink set ${dev}p up\n`,
      });
      return dev;
    };

    it('bridge: the veth is on the bridge before IPAM, the lease lands on eth0; CHECK and DEL', async () => {
      const pod = node.addPod();
      const cid = uniqueName('c');
      const add = await node.runPlugin(ourBridge, env('ADD', cid, pod), bridgeConf());
      expect(add.code, add.stdout + add.stderr + daemon.log.slice(-2000)).toBe(0);
      const ip = add.json.ips[0];
      expect(ip.address).toMatch(/^10\.78\.0\.(1[0-4]\d|150)\/24$/);
      expect(ip.gateway).toBe(BRIDGE_SERVER_IP);
      expect(addrsIn(pod, 'eth0')).toEqual([ip.address]);
      expect(sh('ip', ['route', 'show', 'default'], { netns: pod })).toMatch(/default via 10\.78\.0\.1 dev eth0/);
      expect(leaseOf(cid)?.[2]).toBe(ip.address.split('/')[0]);
      expect(leaseOf(cid)?.[1]).toBe(add.json.interfaces[2].mac);
      const check = await node.runPlugin(ourBridge, env('CHECK', cid, pod), { ...bridgeConf(), prevResult: add.json });
      expect(check.code, check.stdout).toBe(0);
      const del = await node.runPlugin(ourBridge, env('DEL', cid, pod), { ...bridgeConf(), prevResult: add.json });
      expect(del.code, del.stdout).toBe(0);
      expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
      expect(bridgePorts()).not.toContain(add.json.interfaces[1].name);
    });

    it('bridge: a failed IPAM ADD (no daemon) leaves no veth behind', async () => {
      const pod = node.addPod();
      const before = bridgePorts();
      const add = await node.runPlugin(
        ourBridge,
        env('ADD', uniqueName('c'), pod),
        bridgeConf(join(node.tmp, 'nobody.sock')),
      );
      expect(add.code).toBe(1);
      expect(add.json.code).toBe(11);
      expect(add.json.msg).toContain('error dialing DHCP daemon');
      expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
      expect(bridgePorts()).toEqual(before);
    });

    it('host-device: the device is moved in before IPAM and leases from the segment; DEL releases and gives it back', async () => {
      const dev = deviceOnBridge();
      const pod = node.addPod();
      const cid = uniqueName('c');
      const conf = { cniVersion: '1.1.0', name: 'lan', type: 'host-device', device: dev, ipam: ipam() };
      const add = await node.runPlugin(ourHostDevice, env('ADD', cid, pod), conf);
      expect(add.code, add.stdout + add.stderr + daemon.log.slice(-2000)).toBe(0);
      const ip = add.json.ips[0];
      expect(ip.address).toMatch(/^10\.78\.0\.(1[0-4]\d|150)\/24$/);
      expect(addrsIn(pod, 'eth0')).toEqual([ip.address]);
      expect(linksIn(node.path).map((l) => l.ifname)).not.toContain(dev);
      expect(leaseOf(cid)?.[1]).toBe(add.json.interfaces[0].mac);
      const check = await node.runPlugin(ourHostDevice, env('CHECK', cid, pod), { ...conf, prevResult: add.json });
      expect(check.code, check.stdout).toBe(0);
      const del = await node.runPlugin(ourHostDevice, env('DEL', cid, pod), { ...conf, prevResult: add.json });
      expect(del.code, del.stdout).toBe(0);
      // host-device releases IPAM while the device is still in the pod: the DHCPRELEASE reaches the server.
      await until('the lease to disappear from dnsmasq', () => !leaseOf(cid));
      expect(linksIn(node.path).map((l) => l.ifname)).toContain(dev);
      expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
    });

    it('host-device: a failed IPAM ADD moves the device back under its name', async () => {
      const dev = deviceOnBridge();
      const pod = node.addPod();
      const conf = {
        cniVersion: '1.1.0',
        name: 'lan',
        type: 'host-device',
        device: dev,
        ipam: ipam(join(node.tmp, 'nobody.sock')),
      };
      const add = await node.runPlugin(ourHostDevice, env('ADD', uniqueName('c'), pod), conf);
      expect(add.code).toBe(1);
      expect(add.json.code).toBe(11);
      const back = linksIn(node.path).find((l) => l.ifname === dev) as { ifalias?: string } | undefined;
      expect(back).toBeDefined();
      expect(back?.ifalias ?? '').toBe('');
      expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
    });
  },
);
