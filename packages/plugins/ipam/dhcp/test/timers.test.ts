import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TestNode,
  implementations,
  linksIn,
  missingForKernelTests,
  missingLinkKind,
  uniqueName,
} from '@tscni/testing/node';
import { Daemon, Lan, UPLINK, type Responder } from './lan';

// Lease times in seconds need a server of our own (dnsmasq's minimum lease is 2 minutes):
// test/fixtures/responder.mjs hands out 6 s leases with T1 = 2 s and T2 = 4 s.
const MACVLAN = '/usr/lib/cni/macvlan';
const missing =
  missingForKernelTests(['ip', 'nsenter']) ?? (existsSync(MACVLAN) ? missingLinkKind('macvlan') : `needs ${MACVLAN}`);
const LEASE = { lease: 6, t1: 2, t2: 4 };

async function until(pred: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const impl of implementations('dhcp')) {
  const ours = impl.name === 'tscni';
  describe.skipIf(!!missing || !impl.present)(
    `dhcp lease timers (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      let node: TestNode;
      let lan: Lan;
      let daemon: Daemon;
      let responder: Responder;

      beforeAll(async () => {
        node = new TestNode('dt');
        lan = new Lan(node);
        responder = await lan.startResponder(LEASE);
        const flags = ours
          ? ['-statedir', join(node.tmp, 'leases.d'), '-timeout', '1s', '-resendtimeout', '8s']
          : ['-timeout', '1s'];
        daemon = new Daemon(node, impl.bin, join(node.tmp, 'dhcp.sock'), flags);
        await daemon.start();
      });
      afterAll(async () => {
        await daemon?.stop();
        lan?.stopServers();
        node?.destroy();
      });

      const conf = {
        cniVersion: '1.0.0',
        name: 'lan',
        type: 'macvlan',
        master: UPLINK,
        ipam: { type: 'dhcp', daemonSocketPath: '' },
      };
      async function attach(): Promise<{ pod: string; cid: string; ip: string; since: number }> {
        const pod = node.addPod();
        const cid = uniqueName('c');
        const env = {
          CNI_COMMAND: 'ADD',
          CNI_CONTAINERID: cid,
          CNI_NETNS: pod,
          CNI_IFNAME: 'eth0',
          CNI_PATH: dirname(impl.bin),
        };
        const since = responder.events.length;
        const add = await node.runPlugin(MACVLAN, env, {
          ...conf,
          ipam: { ...conf.ipam, daemonSocketPath: daemon.socketPath },
        });
        expect(add.code, add.stdout + daemon.log).toBe(0);
        return { pod, cid, ip: add.json.ips[0].address.split('/')[0], since };
      }
      const after =
        (since: number) => (pred: (e: Responder['events'][number]) => boolean) => (e: Responder['events'][number]) =>
          responder.events.indexOf(e) >= since && pred(e);
      const mine = (cid: string) => (e: Responder['events'][number]) => e.clientID === `${cid}/lan/eth0`;

      it('renews at T1 (ours: a unicast REQUEST from the leased address)', async () => {
        responder.mode('answer');
        const { cid, ip, since } = await attach();
        const renewal = await responder.waitFor(
          after(since)((e) => mine(cid)(e) && e.type === 'REQUEST' && e.ciaddr === ip),
          5000,
        );
        // (The reference v1.1.1 broadcasts its renewals.)
        if (ours) expect(renewal.via).toBe('unicast');
      });

      it.skipIf(!ours)(
        'rebinds at T2 with a broadcast REQUEST when the server ignores renewals',
        async () => {
          responder.mode('ignore-unicast');
          const { pod, cid, ip, since } = await attach();
          const rebind = await responder.waitFor(
            after(since)((e) => mine(cid)(e) && e.type === 'REQUEST' && e.via === 'broadcast' && e.ciaddr === ip),
            8000,
          );
          expect(rebind.mode).toBe('ignore-unicast');
          expect(linksIn(pod).find((l) => l.ifname === 'eth0')!.flags).toContain('UP');
          responder.mode('answer');
        },
        15_000,
      );

      it.skipIf(!ours)(
        're-acquires (DISCOVER) when the server NAKs the renewal',
        async () => {
          responder.mode('answer');
          const { pod, cid, since } = await attach();
          responder.mode(`nak:${cid}/lan/eth0`);
          const nakd = await responder.waitFor(
            after(since)((e) => mine(cid)(e) && e.type === 'NAK'),
            5000,
          );
          const rediscover = await responder.waitFor(
            after(responder.events.indexOf(nakd) + 1)((e) => mine(cid)(e) && e.type === 'DISCOVER'),
            5000,
          );
          expect(rediscover).toBeDefined();
          expect(linksIn(pod).find((l) => l.ifname === 'eth0')!.flags).toContain('UP');
        },
        15_000,
      );

      it.skipIf(!ours)(
        'a daemon restarted after T1 renews (or, past T2, rebinds) the restored lease at once',
        async () => {
          responder.mode('answer');
          const { pod, cid, ip } = await attach();
          await daemon.stop();
          await new Promise((r) => setTimeout(r, 2500));
          const since = responder.events.length;
          await daemon.start();
          await responder.waitFor(
            after(since)((e) => mine(cid)(e) && e.type === 'REQUEST' && e.ciaddr === ip),
            3000,
          );
          expect(daemon.log).toMatch(new RegExp(`${cid}/lan/eth0: resumed bound lease`));
          await until(() => new RegExp(`${cid}/lan/eth0: bound ${ip.replace(/\./g, '\\.')}`).test(daemon.log), 3000);
          expect(linksIn(pod).find((l) => l.ifname === 'eth0')!.flags).toContain('UP');
        },
        15_000,
      );

      // The reference v1.1.1 keeps backing off its renewal far past a 6 s lease before it notices the expiry.
      it.skipIf(!ours)(
        'sets the link DOWN when the lease expires',
        async () => {
          responder.mode('answer');
          const { pod, cid } = await attach();
          responder.mode('silent');
          const deadline = Date.now() + 10_000;
          while (
            linksIn(pod)
              .find((l) => l.ifname === 'eth0')!
              .flags.includes('UP')
          ) {
            if (Date.now() > deadline) throw new Error(`eth0 still up: ${daemon.log}`);
            await new Promise((r) => setTimeout(r, 200));
          }
          responder.mode('answer');
          const env = {
            CNI_COMMAND: 'CHECK',
            CNI_CONTAINERID: cid,
            CNI_NETNS: pod,
            CNI_IFNAME: 'eth0',
            CNI_PATH: dirname(impl.bin),
          };
          const check = await node.runPlugin(impl.bin, env, {
            ...conf,
            ipam: { ...conf.ipam, daemonSocketPath: daemon.socketPath },
          });
          expect(check.code).toBe(1);
          expect(check.json.msg).toContain('has expired');
        },
        15_000,
      );
    },
  );
}
