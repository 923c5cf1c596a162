import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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

      // The daemon is down past T1 (or T2) of a persisted lease: shift the record's absolute times (the documented
      // on-disk format, README "Restart") instead of sleeping through a 6 s lease, so a loaded box's slow ADD or
      // daemon start cannot move the restart past T2 or the expiry. The lease must not wait for its next boundary.
      async function restartAfter(cid: string, shift: (now: number) => { renewAt: number; rebindAt: number }) {
        await daemon.stop();
        const dir = join(node.tmp, 'leases.d');
        const file = readdirSync(dir)
          .map((f) => join(dir, f))
          .find((f) => f.endsWith('.json') && JSON.parse(readFileSync(f, 'utf8')).req.clientID === `${cid}/lan/eth0`);
        expect(file, 'the lease is persisted').toBeDefined();
        const rec = JSON.parse(readFileSync(file!, 'utf8'));
        const now = Date.now();
        rec.binding = { ...rec.binding, ...shift(now), expiresAt: now + 120_000 };
        writeFileSync(file!, JSON.stringify(rec));
        const since = responder.events.length;
        await daemon.start();
        return since;
      }
      it.skipIf(!ours).each([
        ['after T1 renews', 'renewing', 'unicast', (now: number) => ({ renewAt: now - 1000, rebindAt: now + 60_000 })],
        ['past T2 rebinds', 'rebinding', 'broadcast', (now: number) => ({ renewAt: now - 2000, rebindAt: now - 1000 })],
      ] as const)(
        'a daemon restarted %s the restored lease at once',
        async (_, state, via, shift) => {
          responder.mode('answer');
          const { pod, cid, ip } = await attach();
          const since = await restartAfter(cid, shift);
          await responder
            .waitFor(
              after(since)((e) => mine(cid)(e) && e.type === 'REQUEST' && e.ciaddr === ip && e.via === via),
              3000,
            )
            .catch((err: Error) => expect.fail(`${err.message}\n${daemon.log}`));
          // The restarted daemon's own log (Daemon.start clears it): resumed, then renewing/rebinding, then bound again.
          const id = `${cid}/lan/eth0`;
          const ipRe = ip.replace(/\./g, '\\.');
          await until(() => new RegExp(`${id}: bound ${ipRe}`).test(daemon.log), 3000).catch((e: Error) =>
            expect.fail(`${e.message}\n${daemon.log}\n${JSON.stringify(responder.events.slice(since))}`),
          );
          expect(daemon.log).toMatch(
            new RegExp(
              `${id}: resumed bound lease of ${ipRe}[^]*${id}: ${state} lease of ${ipRe}[^]*${id}: bound ${ipRe}`,
            ),
          );
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
