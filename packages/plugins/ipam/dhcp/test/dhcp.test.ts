import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN,
  REFERENCE_VERSIONS,
  TestNode,
  addrsIn,
  implementations,
  missingForKernelTests,
  missingLinkKind,
  sh,
  uniqueName,
} from '@tscni/testing/node';
import { BRIDGE, BRIDGE_SERVER_IP, Daemon, Lan, SERVER_IP, UPLINK, hexClientID, until } from './lan';

// The interface comes from the reference macvlan (stable oracle); the IPAM under test is found in CNI_PATH.
const MACVLAN = '/usr/lib/cni/macvlan';
const BRIDGE_PLUGIN = '/usr/lib/cni/bridge';
const missing =
  missingForKernelTests(['ip', 'nsenter', 'dnsmasq']) ??
  (existsSync(MACVLAN) ? missingLinkKind('macvlan') : `needs ${MACVLAN}`);

for (const impl of implementations('dhcp')) {
  const ours = impl.name === 'tscni';
  describe.skipIf(!!missing || !impl.present)(
    `dhcp with dnsmasq (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      let node: TestNode;
      let lan: Lan;
      let daemon: Daemon;
      const cniPath = dirname(impl.bin);
      const renewCid = uniqueName('renew');

      beforeAll(async () => {
        node = new TestNode('dh');
        lan = new Lan(node);
        // T1 of 3 s for the renewal test's client only (a node full of fast renewals slows the reference down).
        await lan.startDnsmasq(impl.name, [
          `--dhcp-host=id:${hexClientID(`${renewCid}/lan/eth0`)},set:fast`,
          '--dhcp-option=tag:fast,option:T1,3',
          '--dhcp-option=tag:fast,option:T2,100',
          `--dhcp-option=121,192.168.50.0/24,10.77.0.254,0.0.0.0/0,${SERVER_IP}`,
        ]);
        const flags = ours
          ? ['-statedir', join(node.tmp, 'leases.d'), '-timeout', '3s', '-resendtimeout', '10s']
          : ['-timeout', '3s'];
        daemon = new Daemon(node, impl.bin, join(node.tmp, `${impl.name}-dhcp.sock`), flags);
        await daemon.start();
      });
      afterAll(async () => {
        await daemon?.stop();
        lan?.stopServers();
        node?.destroy();
      });

      const conf = (cniVersion: string, ipam: Record<string, unknown> = {}) => ({
        cniVersion,
        name: 'lan',
        type: 'macvlan',
        master: UPLINK,
        ipam: { type: 'dhcp', daemonSocketPath: daemon.socketPath, ...ipam },
      });
      const env = (command: string, cid: string, netns: string, extra: Record<string, string> = {}) => ({
        CNI_COMMAND: command,
        CNI_CONTAINERID: cid,
        CNI_NETNS: netns,
        CNI_IFNAME: 'eth0',
        CNI_PATH: cniPath,
        ...extra,
      });
      /** A pod with a macvlan eth0 (down, no address), for calling the IPAM plugin on its own. */
      const podWithMacvlan = (): string => {
        const pod = node.addPod();
        const tmp = uniqueName('mv');
        sh('ip', ['link', 'add', 'link', UPLINK, 'name', tmp, 'type', 'macvlan', 'mode', 'bridge'], {
          netns: node.path,
        });
        sh('ip', ['link', 'set', tmp, 'netns', basename(pod)], { netns: node.path });
        sh('ip', ['link', 'set', tmp, 'name', 'eth0'], { netns: pod });
        return pod;
      };
      const leaseOf = (cid: string) => lan.leases().find((row) => row[4] === hexClientID(`${cid}/lan/eth0`));

      it('renews the lease at T1 (dnsmasq extends it)', async () => {
        const pod = node.addPod();
        const cid = renewCid;
        const add = await node.runPlugin(MACVLAN, env('ADD', cid, pod), conf('1.0.0'));
        expect(add.code, add.stdout + daemon.log).toBe(0);
        const firstExpiry = Number(leaseOf(cid)![0]);
        // The reference's renewal goes through its backoff loop: give it longer on a busy machine.
        await until('a renewal', () => Number(leaseOf(cid)?.[0]) > firstExpiry, ours ? 9000 : 20_000);
        expect(leaseOf(cid)![2]).toBe(add.json.ips[0].address.split('/')[0]);
        await node.runPlugin(MACVLAN, env('DEL', cid, pod), conf('1.0.0'));
      }, 30_000);

      // The reference macvlan speaks up to 1.0.0; 1.1.0 is covered by the direct IPAM calls below.
      for (const version of REFERENCE_VERSIONS.filter((v) => v >= '0.3.0')) {
        it(`ADD leases an address, CHECK confirms it, DEL releases it (${version})`, async () => {
          const pod = node.addPod();
          const cid = uniqueName('c');
          const add = await node.runPlugin(MACVLAN, env('ADD', cid, pod), conf(version));
          expect(add.code, add.stdout + add.stderr + daemon.log).toBe(0);
          const ip = add.json.ips[0];
          expect(ip.address).toMatch(/^10\.77\.0\.(1[0-4]\d|150)\/24$/);
          expect(ip.gateway).toBe(SERVER_IP);
          expect(add.json.routes).toEqual([{ dst: '0.0.0.0/0', gw: SERVER_IP }]);
          expect(addrsIn(pod, 'eth0')).toContain(ip.address);
          // The server's view: the lease is held by our client ID and the interface's MAC.
          const row = leaseOf(cid)!;
          expect(row?.[2]).toBe(ip.address.split('/')[0]);
          expect(row[1]).toBe(add.json.interfaces[0].mac);
          // The limited-broadcast route used while acquiring is gone again.
          expect(sh('ip', ['route', 'show'], { netns: pod })).not.toMatch(/255\.255\.255\.255/);

          if (version >= '0.4.0') {
            const check = await node.runPlugin(MACVLAN, env('CHECK', cid, pod), {
              ...conf(version),
              prevResult: add.json,
            });
            expect(check.code, check.stdout + check.stderr).toBe(0);
          }
          const del = await node.runPlugin(MACVLAN, env('DEL', cid, pod), { ...conf(version), prevResult: add.json });
          expect(del.code, del.stdout + del.stderr).toBe(0);
          await until('the lease to disappear from dnsmasq', () => !leaseOf(cid));
          const again = await node.runPlugin(MACVLAN, env('DEL', cid, pod), conf(version));
          expect(again.code, again.stdout).toBe(0);
        });
      }

      it('two DHCP attachments in one pod (eth0, net1) get separate leases and are released separately', async () => {
        const pod = node.addPod();
        const cid = uniqueName('c');
        const ips: string[] = [];
        for (const ifName of ['eth0', 'net1']) {
          const add = await node.runPlugin(MACVLAN, env('ADD', cid, pod, { CNI_IFNAME: ifName }), conf('1.0.0'));
          expect(add.code, add.stdout + daemon.log).toBe(0);
          ips.push(add.json.ips[0].address);
          expect(addrsIn(pod, ifName)).toEqual([add.json.ips[0].address]);
        }
        expect(ips[0]).not.toBe(ips[1]);
        const leaseFor = (ifName: string) => lan.leases().find((row) => row[4] === hexClientID(`${cid}/lan/${ifName}`));
        expect(leaseFor('net1')?.[2]).toBe(ips[1].split('/')[0]);
        const del = await node.runPlugin(MACVLAN, env('DEL', cid, pod, { CNI_IFNAME: 'net1' }), conf('1.0.0'));
        expect(del.code, del.stdout).toBe(0);
        await until('net1 released', () => !leaseFor('net1'));
        expect(leaseFor('eth0')?.[2]).toBe(ips[0].split('/')[0]);
        await node.runPlugin(MACVLAN, env('DEL', cid, pod), conf('1.0.0'));
        await until('eth0 released', () => !leaseFor('eth0'));
      });

      it('a pod on a bridge (reference bridge plugin) gets its lease from the bridged segment', async () => {
        const pod = node.addPod();
        const cid = uniqueName('c');
        const bridgeConf = {
          cniVersion: '1.0.0',
          name: 'lan',
          type: 'bridge',
          bridge: BRIDGE,
          ipam: { type: 'dhcp', daemonSocketPath: daemon.socketPath },
        };
        const add = await node.runPlugin(BRIDGE_PLUGIN, env('ADD', cid, pod), bridgeConf);
        expect(add.code, add.stdout + add.stderr + daemon.log.slice(-2000)).toBe(0);
        const ip = add.json.ips[0];
        expect(ip.address).toMatch(/^10\.78\.0\.(1[0-4]\d|150)\/24$/);
        expect(ip.gateway).toBe(BRIDGE_SERVER_IP);
        expect(addrsIn(pod, 'eth0')).toEqual([ip.address]);
        expect(leaseOf(cid)?.[2]).toBe(ip.address.split('/')[0]);
        const del = await node.runPlugin(BRIDGE_PLUGIN, env('DEL', cid, pod), { ...bridgeConf, prevResult: add.json });
        expect(del.code, del.stdout).toBe(0);
        // The bridge plugin deletes the veth before its IPAM DEL, so no DHCPRELEASE can leave the pod (the reference
        // behaves the same): the server reclaims the address at expiry. The daemon has let go of the lease.
        if (ours) {
          const check = await node.runPlugin(impl.bin, env('CHECK', cid, pod), bridgeConf);
          expect(check.json?.msg).toContain('no DHCP lease');
        }
      });

      it('concurrent ADDs for six pods each get their own lease', async () => {
        const pods = Array.from({ length: 6 }, () => [uniqueName('c'), node.addPod()] as const);
        const adds = await Promise.all(
          pods.map(([cid, pod]) => node.runPlugin(MACVLAN, env('ADD', cid, pod), conf('1.0.0'))),
        );
        for (const add of adds) expect(add.code, add.stdout + add.stderr + daemon.log.slice(-3000)).toBe(0);
        const addresses = adds.map((a) => a.json.ips[0].address);
        expect(new Set(addresses).size).toBe(6);
        pods.forEach(([cid, pod], i) => {
          expect(addrsIn(pod, 'eth0')).toEqual([addresses[i]]);
          expect(leaseOf(cid)?.[2]).toBe(addresses[i].split('/')[0]);
        });
        const dels = await Promise.all(
          pods.map(([cid, pod]) => node.runPlugin(MACVLAN, env('DEL', cid, pod), conf('1.0.0'))),
        );
        for (const del of dels) expect(del.code, del.stdout).toBe(0);
        await until('all six released', () => pods.every(([cid]) => !leaseOf(cid)));
      }, 40_000);

      it('without a daemon ADD fails with an error naming the socket', async () => {
        const pod = node.addPod();
        const socket = join(node.tmp, 'nobody-listens.sock');
        const r = await node.runPlugin(
          impl.bin,
          env('ADD', uniqueName('c'), pod),
          conf('1.0.0', { daemonSocketPath: socket }),
        );
        expect(r.code).toBe(1);
        expect(r.json.msg + (r.json.details ?? '')).toContain(
          `dial unix ${socket}: connect: no such file or directory`,
        );
        expect(r.json.code).toBe(ours ? 11 : 999);
      });

      describe.skipIf(!ours)('tscni only', () => {
        it('request/provide options: host-name from CNI_ARGS, classless static routes (121), route priority (1.1.0, IPAM alone)', async () => {
          const pod = podWithMacvlan();
          const cid = uniqueName('c');
          const ipam = {
            request: [{ option: 'classless-static-routes' }],
            provide: [{ option: 'host-name', fromArg: 'K8S_POD_NAME' }],
            priority: 50,
          };
          const add = await node.runPlugin(
            impl.bin,
            env('ADD', cid, pod, { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web-0' }),
            conf('1.1.0', ipam),
          );
          expect(add.code, add.stdout + daemon.log).toBe(0);
          expect(add.json.cniVersion).toBe('1.1.0');
          expect(add.json.interfaces).toBeUndefined();
          expect(add.json.ips).toEqual([
            { address: expect.stringMatching(/^10\.77\.0\.\d+\/24$/), gateway: SERVER_IP },
          ]);
          // RFC 3442: with option 121 the router option and static routes are ignored.
          expect(add.json.routes).toEqual([
            { dst: '192.168.50.0/24', gw: '10.77.0.254', priority: 50 },
            { dst: '0.0.0.0/0', gw: SERVER_IP, priority: 50 },
          ]);
          expect(leaseOf(cid)![3]).toBe('web-0');
          // Without an address on the interface DHCPRELEASE goes out as a broadcast.
          const del = await node.runPlugin(impl.bin, env('DEL', cid, pod), conf('1.1.0', ipam));
          expect(del.code, del.stdout).toBe(0);
          await until('the lease to disappear from dnsmasq', () => !leaseOf(cid));
        });

        // DHCP needs the interface before its ADD: our macvlan makes the link first for such IPAM types.
        it('under the tscni macvlan too (ADD, CHECK, DEL at 1.1.0)', async () => {
          const ourMacvlan = join(DIST_BIN, 'macvlan');
          const pod = node.addPod();
          const cid = uniqueName('c');
          const add = await node.runPlugin(ourMacvlan, env('ADD', cid, pod), conf('1.1.0', { priority: 20 }));
          expect(add.code, add.stdout + daemon.log).toBe(0);
          const address = add.json.ips[0].address;
          expect(addrsIn(pod, 'eth0')).toEqual([address]);
          expect(sh('ip', ['route', 'show', 'default'], { netns: pod })).toMatch(
            /default via 10\.77\.0\.1 dev eth0.* metric 20/,
          );
          const check = await node.runPlugin(ourMacvlan, env('CHECK', cid, pod), {
            ...conf('1.1.0', { priority: 20 }),
            prevResult: add.json,
          });
          expect(check.code, check.stdout).toBe(0);
          const del = await node.runPlugin(ourMacvlan, env('DEL', cid, pod), {
            ...conf('1.1.0', { priority: 20 }),
            prevResult: add.json,
          });
          expect(del.code, del.stdout).toBe(0);
          await until('the lease to disappear from dnsmasq', () => !leaseOf(cid));
        });

        it('bad ipam config is error 7 naming the field', async () => {
          const pod = node.addPod();
          const cases: [Record<string, unknown>, string][] = [
            [{ request: [{ option: 'no-such-option' }] }, 'ipam.request[0].option'],
            [{ provide: [{ option: 'host-name', value: 'x'.repeat(256) }] }, 'ipam.provide[0]'],
            [{ daemonSocketPath: 'relative.sock' }, 'ipam.daemonSocketPath'],
            [{ priority: -1 }, 'ipam.priority'],
          ];
          for (const [ipam, field] of cases) {
            const r = await node.runPlugin(impl.bin, env('ADD', uniqueName('c'), pod), conf('1.0.0', ipam));
            expect(r.json?.code, r.stdout).toBe(7);
            expect(r.json.msg).toContain(field);
            expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
          }
        });

        it('CHECK fails for an attachment without a lease, and for a different address', async () => {
          const pod = node.addPod();
          const cid = uniqueName('c');
          const none = await node.runPlugin(impl.bin, env('CHECK', cid, pod), conf('1.0.0'));
          expect(none.code).toBe(1);
          expect(none.json.msg).toContain(`no DHCP lease for ${cid}/lan/eth0`);
          const add = await node.runPlugin(MACVLAN, env('ADD', cid, pod), conf('1.0.0'));
          expect(add.code, add.stdout).toBe(0);
          const prevResult = { ...add.json, ips: [{ address: '10.77.0.99/24', interface: 0 }] };
          const wrong = await node.runPlugin(impl.bin, env('CHECK', cid, pod), { ...conf('1.0.0'), prevResult });
          expect(wrong.code).toBe(1);
          expect(wrong.json.msg).toContain('not 10.77.0.99/24');
          await node.runPlugin(MACVLAN, env('DEL', cid, pod), conf('1.0.0'));
        });

        it('ADD on a missing interface or netns fails cleanly; DEL of an unknown attachment succeeds', async () => {
          const pod = node.addPod();
          const noIf = await node.runPlugin(impl.bin, env('ADD', uniqueName('c'), pod), conf('1.0.0'));
          expect(noIf.code).toBe(1);
          expect(noIf.json.msg).toMatch(/error calling DHCP.Allocate: error looking up "eth0"/);
          const noNetns = await node.runPlugin(
            impl.bin,
            env('ADD', uniqueName('c'), '/var/run/netns/no-such-ns-dhcp'),
            conf('1.0.0'),
          );
          expect(noNetns.code).toBe(1);
          expect(noNetns.stdout + noNetns.stderr).not.toMatch(/\n\s+at /);
          const del = await node.runPlugin(impl.bin, env('DEL', uniqueName('c'), ''), conf('1.0.0'));
          expect(del.code, del.stdout).toBe(0);
          expect(sh('ip', ['route', 'show'], { netns: pod })).toBe('');
        });

        it('GC releases the leases of attachments that are no longer valid, and only of this network', async () => {
          const [keepPod, dropPod] = [node.addPod(), node.addPod()];
          const [keep, drop] = [uniqueName('c'), uniqueName('c')];
          for (const [cid, pod] of [
            [keep, keepPod],
            [drop, dropPod],
          ]) {
            const add = await node.runPlugin(MACVLAN, env('ADD', cid, pod), conf('1.0.0'));
            expect(add.code, add.stdout).toBe(0);
          }
          const other = await node.runPlugin(
            impl.bin,
            { CNI_COMMAND: 'GC', CNI_PATH: cniPath },
            { ...conf('1.1.0'), name: 'other-net', 'cni.dev/valid-attachments': [] },
          );
          expect(other.code, other.stdout).toBe(0);
          expect(leaseOf(drop)).toBeDefined();
          const valid = [{ containerID: keep, ifname: 'eth0' }];
          const gc = await node.runPlugin(
            impl.bin,
            { CNI_COMMAND: 'GC', CNI_PATH: cniPath },
            { ...conf('1.1.0'), 'cni.dev/valid-attachments': valid },
          );
          expect(gc.code, gc.stdout).toBe(0);
          await until('the stale lease to be released', () => !leaseOf(drop));
          expect(leaseOf(keep)).toBeDefined();
          await node.runPlugin(MACVLAN, env('DEL', keep, keepPod), conf('1.0.0'));
          await node.runPlugin(MACVLAN, env('DEL', drop, dropPod), conf('1.0.0'));
        });

        it('daemon: -pidfile, a second daemon on a live socket is refused, SIGTERM removes socket and pidfile', async () => {
          const pidfile = join(node.tmp, 'second.pid');
          const second = new Daemon(node, impl.bin, join(node.tmp, 'second.sock'), [
            '-pidfile',
            pidfile,
            '-statedir',
            join(node.tmp, 'second.d'),
          ]);
          await second.start();
          try {
            await until('the pidfile', () => existsSync(pidfile));
            expect(Number(readFileSync(pidfile, 'utf8'))).toBe(second.proc.pid);
            const third = new Daemon(node, impl.bin, second.socketPath, ['-statedir', join(node.tmp, 'third.d')]);
            await third.start();
            await until('the third daemon to give up', () => third.proc.exitCode !== null || undefined);
            expect(third.proc.exitCode).toBe(1);
            expect(third.log).toContain('a daemon is already listening');
            const relative = new Daemon(node, impl.bin, join(node.tmp, 'rel.sock'), ['-pidfile', 'rel.pid']);
            await expect(relative.start()).rejects.toThrow(/pidfile "rel.pid": path not absolute/);
          } finally {
            await second.stop();
          }
          expect(existsSync(pidfile)).toBe(false);
          expect(existsSync(second.socketPath)).toBe(false);
        });

        it('STATUS reports a missing daemon as 50', async () => {
          const up = await node.runPlugin(impl.bin, { CNI_COMMAND: 'STATUS', CNI_PATH: cniPath }, conf('1.1.0'));
          expect(up.code, up.stdout).toBe(0);
          const down = await node.runPlugin(
            impl.bin,
            { CNI_COMMAND: 'STATUS', CNI_PATH: cniPath },
            conf('1.1.0', { daemonSocketPath: join(node.tmp, 'x.sock') }),
          );
          expect(down.json.code).toBe(50);
        });

        it('a restarted daemon picks its leases up again and can still release them', async () => {
          const pod = node.addPod();
          const cid = uniqueName('c');
          const add = await node.runPlugin(MACVLAN, env('ADD', cid, pod), conf('1.0.0'));
          expect(add.code, add.stdout).toBe(0);
          await daemon.stop();
          await daemon.start();
          // start() returns once the socket file exists (bind); the "listening on …, N lease(s) restored" line is
          // written after listen() and can reach us later (seen once under load): wait for it, do not read it at once.
          await until('the restored-leases line', () => /lease\(s\) restored/.test(daemon.log)).catch((e: Error) =>
            expect.fail(`${e.message}\n${daemon.log}`),
          );
          const check = await node.runPlugin(impl.bin, env('CHECK', cid, pod), {
            ...conf('1.0.0'),
            prevResult: add.json,
          });
          expect(check.code, check.stdout + daemon.log).toBe(0);
          const del = await node.runPlugin(MACVLAN, env('DEL', cid, pod), conf('1.0.0'));
          expect(del.code).toBe(0);
          await until('the lease to disappear from dnsmasq', () => !leaseOf(cid));
        });

        it('a plugin killed in the middle of ADD does not disturb the daemon', async () => {
          const victimPod = podWithMacvlan();
          const victim = uniqueName('c');
          const child = spawn('ip', ['netns', 'exec', node.name, impl.bin], {
            env: { PATH: process.env.PATH, ...env('ADD', victim, victimPod) },
            stdio: ['pipe', 'ignore', 'ignore'],
          });
          child.stdin.end(JSON.stringify(conf('1.0.0')));
          await new Promise((r) => setTimeout(r, 150));
          child.kill('SIGKILL');

          const pod = node.addPod();
          const cid = uniqueName('c');
          const add = await node.runPlugin(MACVLAN, env('ADD', cid, pod), conf('1.0.0'));
          expect(add.code, add.stdout + daemon.log).toBe(0);
          expect(daemon.proc.exitCode).toBeNull();
          for (const [c, p] of [
            [cid, pod],
            [victim, victimPod],
          ]) {
            const del = await node.runPlugin(MACVLAN, env('DEL', c, p), conf('1.0.0'));
            expect(del.code, del.stdout).toBe(0);
          }
          await until('both leases to be released', () => !leaseOf(cid) && !leaseOf(victim));
        });

        it('an active lease costs one socket: no thread, no process, little memory', async () => {
          const count = 12;
          // One lease taken and released first: a runtime's one-time resources (Bun starts its process-reaper thread
          // and event fds at the first spawn) are not a lease's cost.
          const warm = node.addPod();
          const warmCid = uniqueName('w');
          expect((await node.runPlugin(MACVLAN, env('ADD', warmCid, warm), conf('1.0.0'))).code).toBe(0);
          expect((await node.runPlugin(MACVLAN, env('DEL', warmCid, warm), conf('1.0.0'))).code).toBe(0);
          // Bun closes a finished helper's pipes and a served RPC connection a little later than Node: read the
          // daemon's usage once its descriptor count has held still for half a second.
          const settled = async () => {
            let last = daemon.usage();
            for (let i = 0; i < 20; i++) {
              await new Promise((r) => setTimeout(r, 500));
              const u = daemon.usage();
              if (u.fds === last.fds) return u;
              last = u;
            }
            return last;
          };
          const before = await settled();
          const pods: [string, string][] = [];
          for (let i = 0; i < count; i++) {
            const pod = node.addPod();
            const cid = uniqueName('m');
            const add = await node.runPlugin(MACVLAN, env('ADD', cid, pod), conf('1.0.0'));
            expect(add.code, add.stdout).toBe(0);
            pods.push([cid, pod]);
          }
          const after = await settled();
          const perLease = (after.rssKb - before.rssKb) / count;
          console.log(
            `dhcp daemon: ${JSON.stringify(before)} idle → ${JSON.stringify(after)} with ${count} more leases (RSS ≈${perLease.toFixed(0)} kB per lease, mostly allocator high-water)`,
          );
          expect(after.fds - before.fds).toBe(count);
          expect(after.threads).toBeLessThanOrEqual(before.threads + 1);
          expect(after.children).toBe(0);
          expect(perLease).toBeLessThan(2048);
          for (const [cid, pod] of pods) await node.runPlugin(MACVLAN, env('DEL', cid, pod), conf('1.0.0'));
          expect((await settled()).fds).toBe(before.fds);
        }, 60_000);
      });
    },
  );
}
