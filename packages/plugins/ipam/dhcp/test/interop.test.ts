/**
 * Either daemon with either plugin (a node mid-upgrade): our plugin against Debian's reference daemon and the
 * reference plugin against ours, both speaking Go net/rpc + gob on the unix socket, leases from dnsmasq.
 * Also socket activation (systemd-socket-activate hands the daemon its listening socket as fd 3, as
 * cni-dhcp.socket does) and the daemon of each build, whichever the suites exec: the Node bundle and the Bun executable.
 */
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, TestNode, addrsIn, binDir, missingForKernelTests, uniqueName } from '@tscni/testing/node';
import { BRIDGE, Daemon, Lan, hexClientID, until } from './lan';

const REFERENCE_DHCP = '/usr/lib/cni/dhcp';
const SOCKET_ACTIVATE = '/usr/bin/systemd-socket-activate';
const DIST = join(import.meta.dirname, '../../../../../dist');
// Each build's daemon (DIST_BIN is the default one): the Node bundle starts its netns helper with `node -e`, the Bun
// executable with itself as the bun CLI (BUN_BE_BUN=1), whatever name it was started by.
const BUILDS = [
  { what: 'the Node bundle', dhcp: join(DIST, 'cni-bin/dhcp') },
  { what: 'the Bun executable (a symlink to tscni-cni)', dhcp: join(DIST, 'bun/cni-bin/dhcp') },
];
const missing =
  missingForKernelTests(['ip', 'nsenter', 'dnsmasq']) ??
  (existsSync(REFERENCE_DHCP) ? undefined : `needs ${REFERENCE_DHCP}`);

describe.skipIf(!!missing)(
  `dhcp wire compatibility with the reference${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let lan: Lan;
    const daemons: Daemon[] = [];

    beforeAll(async () => {
      node = new TestNode('dx');
      lan = new Lan(node);
      await lan.startDnsmasq('interop');
    });
    afterAll(async () => {
      for (const d of daemons) await d.stop();
      lan?.stopServers();
      node?.destroy();
    });

    const startDaemon = async (bin: string, flags: string[] = []): Promise<Daemon> => {
      const d = new Daemon(node, bin, join(node.tmp, `${uniqueName('d')}.sock`), flags);
      daemons.push(d);
      await d.start();
      return d;
    };
    const ourFlags = () => [
      '-statedir',
      join(node.tmp, uniqueName('state')),
      '-timeout',
      '3s',
      '-resendtimeout',
      '10s',
    ];
    const conf = (socket: string) => ({
      cniVersion: '1.0.0',
      name: 'lan',
      type: 'bridge',
      bridge: BRIDGE,
      ipam: { type: 'dhcp', daemonSocketPath: socket },
    });
    const env = (command: string, cid: string, netns: string, cniPath: string) => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: cid,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
      CNI_PATH: cniPath,
    });
    const leaseOf = (cid: string) => lan.leases().find((row) => row[4] === hexClientID(`${cid}/lan/eth0`));

    /** A pod on the reference bridge with `dhcp` (ours or the reference's) as IPAM against `socket`: ADD, CHECK, DEL. */
    async function lifecycle(dhcpPlugin: 'ours' | 'reference', socket: string, log: () => string): Promise<void> {
      const cniPath = binDir(node.tmp, { bridge: 'reference', dhcp: dhcpPlugin });
      const pod = node.addPod();
      const cid = uniqueName('c');
      const add = await node.runPlugin(join(cniPath, 'bridge'), env('ADD', cid, pod, cniPath), conf(socket));
      expect(add.code, add.stdout + add.stderr + log().slice(-2000)).toBe(0);
      const ip = add.json.ips[0];
      expect(ip.address).toMatch(/^10\.78\.0\.(1[0-4]\d|150)\/24$/);
      expect(ip.gateway).toBe('10.78.0.1');
      expect(add.json.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.78.0.1' }]);
      expect(addrsIn(pod, 'eth0')).toEqual([ip.address]);
      expect(leaseOf(cid)?.[2]).toBe(ip.address.split('/')[0]);
      const withPrev = { ...conf(socket), prevResult: add.json };
      const check = await node.runPlugin(join(cniPath, 'bridge'), env('CHECK', cid, pod, cniPath), withPrev);
      expect(check.code, check.stdout + log().slice(-1000)).toBe(0);
      // IPAM DEL alone first, while eth0 still exists: the daemon's DHCPRELEASE reaches dnsmasq.
      const release = await node.runPlugin(join(cniPath, 'dhcp'), env('DEL', cid, pod, cniPath), withPrev);
      expect(release.code, release.stdout + log().slice(-1000)).toBe(0);
      await until('dnsmasq to see the release', () => !leaseOf(cid));
      const del = await node.runPlugin(join(cniPath, 'bridge'), env('DEL', cid, pod, cniPath), withPrev);
      expect(del.code, del.stdout).toBe(0);
    }

    it('our plugin with the reference daemon: ADD, CHECK (as Allocate), DEL; STATUS and GC succeed', async () => {
      const d = await startDaemon(REFERENCE_DHCP, ['-timeout', '3s']);
      await lifecycle('ours', d.socketPath, () => d.log);
      const ours = join(DIST_BIN, 'dhcp');
      const status = await node.runPlugin(
        ours,
        { CNI_COMMAND: 'STATUS', CNI_PATH: DIST_BIN },
        { ...conf(d.socketPath), cniVersion: '1.1.0' },
      );
      expect(status.code, status.stdout).toBe(0);
      const gc = await node.runPlugin(
        ours,
        { CNI_COMMAND: 'GC', CNI_PATH: DIST_BIN },
        { ...conf(d.socketPath), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] },
      );
      expect(gc.code, gc.stdout).toBe(0);
    }, 60_000);

    it('the reference plugin with our daemon: ADD, CHECK, DEL', async () => {
      const d = await startDaemon(join(DIST_BIN, 'dhcp'), ourFlags());
      await lifecycle('reference', d.socketPath, () => d.log);
    }, 60_000);

    it("the reference plugin gets our daemon's errors as Go rpc errors", async () => {
      const d = await startDaemon(join(DIST_BIN, 'dhcp'), ourFlags());
      const cniPath = binDir(node.tmp, { dhcp: 'reference' });
      const pod = node.addPod();
      const add = await node.runPlugin(
        join(cniPath, 'dhcp'),
        env('ADD', uniqueName('c'), pod, cniPath),
        conf(d.socketPath),
      );
      expect(add.code).toBe(1);
      expect(add.json.msg).toMatch(/^error calling DHCP\.Allocate: error looking up "eth0"/);
    });

    it("our daemon answers what Go's rpc server answers to a non-CONNECT request, drops garbage, and keeps serving", async () => {
      const d = await startDaemon(join(DIST_BIN, 'dhcp'), ourFlags());
      const exchange = (data: Buffer | string) =>
        new Promise<string>((resolve) => {
          const sock = createConnection(d.socketPath);
          let out = '';
          sock.on('data', (b) => (out += b.toString('latin1')));
          sock.on('close', () => resolve(out));
          sock.on('error', () => resolve(out));
          sock.write(data);
          setTimeout(() => sock.destroy(), 3000);
        });
      expect(await exchange('GET /_goRPC_ HTTP/1.0\r\n\r\n')).toMatch(
        /^HTTP\/1\.0 405 Method Not Allowed\r\n[\s\S]*405 must CONNECT\n$/,
      );
      const garbage = await exchange(
        Buffer.concat([Buffer.from('CONNECT /_goRPC_ HTTP/1.0\n\n'), Buffer.from([5, 0xff, 0x83, 9, 9, 9])]),
      );
      expect(garbage).toBe('HTTP/1.0 200 Connected to Go RPC\n\n');
      expect(d.proc.exitCode).toBeNull();
      await lifecycle('reference', d.socketPath, () => d.log);
    }, 60_000);

    // systemd-socket-activate comes with the systemd package (CI installs it): missing, this fails.
    it('socket activation as the shipped units do it: the daemon starts on the first call and serves on fd 3', async () => {
      const units = join(import.meta.dirname, '../systemd');
      const socketUnit = readFileSync(join(units, 'cni-dhcp.socket'), 'utf8');
      const serviceUnit = readFileSync(join(units, 'cni-dhcp.service'), 'utf8');
      expect(socketUnit).toMatch(/^ListenStream=\/run\/cni\/dhcp\.sock$/m);
      const exec = /^ExecStart=(\S+) (.*)$/m.exec(serviceUnit)!;
      expect(exec[1]).toBe('/opt/cni/bin/dhcp');
      const unitArgs = exec[2]
        .split(' ')
        .map((a) => (a === '/run/cni/dhcp-leases' ? join(node.tmp, uniqueName('act')) : a));
      // The unit's command line, with the plugin from dist and the state dir in the test's tmp.
      const socket = join(node.tmp, `${uniqueName('act')}.sock`);
      const activator = spawn(
        'nsenter',
        [`--net=${node.path}`, '--', SOCKET_ACTIVATE, '-l', socket, '--', join(DIST_BIN, 'dhcp'), ...unitArgs],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let log = '';
      activator.stdout!.on('data', (d) => (log += d));
      activator.stderr!.on('data', (d) => (log += d));
      try {
        await until('the activator to listen', () => existsSync(socket));
        expect(log).not.toMatch(/listening on/);
        await lifecycle('ours', socket, () => log);
        expect(log).toMatch(/listening on fd 3 \(socket activation\)/);
      } finally {
        activator.kill('SIGTERM');
      }
    }, 60_000);

    for (const build of BUILDS)
      it(`the daemon of ${build.what} serves the reference plugin (built by the vitest global setup)`, async () => {
        const d = await startDaemon(build.dhcp, ourFlags());
        await lifecycle('reference', d.socketPath, () => d.log);
      }, 60_000);
  },
);
