// sbr side by side with Debian's reference (1.1.1, which has neither `table` nor `gateways`): the same cases,
// asserting the pod's policy rules (`ip -j rule`) and routing tables (`ip -j route show table all`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, implementations, missingForKernelTests, sh } from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter']);

interface Rule {
  priority: number;
  src: string;
  table: string;
}
interface Route {
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  prefsrc?: string;
}

const rules = (pod: string): Rule[] =>
  [4, 6]
    .flatMap((f) => JSON.parse(sh('ip', [`-${f}`, '-j', 'rule', 'show'], { netns: pod })) as Rule[])
    .filter((r) => r.src !== 'all');
const routes = (pod: string): Route[] =>
  [4, 6]
    .flatMap((f) => JSON.parse(sh('ip', [`-${f}`, '-j', 'route', 'show', 'table', 'all'], { netns: pod })) as Route[])
    .filter((r) => r.table !== 'local' && !r.dev?.endsWith('p')) // not the veth peers'
    .map(({ dst, gateway, dev, table, protocol, prefsrc }) => ({
      dst,
      gateway,
      dev,
      table: table ?? 'main',
      protocol,
      prefsrc,
    }));
const inTable = (pod: string, table: string) =>
  routes(pod)
    .filter((r) => r.table === table)
    .map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`);

/** A pod with `dev` (a veth whose peer stays in the pod) holding the addresses, and a default route per family. */
function podWith(node: TestNode, dev = 'eth0', v4 = '10.9.0.5', v6 = 'fd09::5', pod = node.addPod()): string {
  const peer = `${dev}p`;
  sh('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', peer], { netns: pod });
  sh('ip', ['-batch', '-'], {
    netns: pod,
    input: [
      `link set ${peer} up`,
      `link set ${dev} up`,
      `addr add ${v4}/24 dev ${dev}`,
      `addr add ${v6}/64 dev ${dev} nodad`,
      `route add ${dev === 'eth0' ? '10.50.0.0/16' : '10.60.0.0/16'} via ${gw(v4)} dev ${dev}`,
      '',
    ].join('\n'),
  });
  if (dev === 'eth0')
    sh('ip', ['-batch', '-'], {
      netns: pod,
      input: `route add default via ${gw(v4)}\nroute add default via ${gw(v6)}\n`,
    });
  return pod;
}
const gw = (ip: string) => ip.replace(/[.:]\d+$/, (m) => `${m[0]}1`);
const prevResult = (pod: string, dev = 'eth0', v4 = '10.9.0.5', v6 = 'fd09::5') => ({
  cniVersion: '1.0.0',
  interfaces: [{ name: dev, sandbox: pod }],
  ips: [
    { address: `${v4}/24`, gateway: gw(v4), interface: 0 },
    { address: `${v6}/64`, gateway: gw(v6), interface: 0 },
  ],
  routes: [{ dst: '0.0.0.0/0' }],
});

for (const impl of implementations('sbr')) {
  describe.skipIf(!!missing || !impl.present)(`sbr (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`, () => {
    let node: TestNode;
    let n = 0;
    beforeAll(() => (node = new TestNode('sbr')));
    afterAll(() => node?.destroy());

    const conf = (pod: string, extra: Record<string, unknown> = {}, dev = 'eth0', v4?: string, v6?: string) => ({
      cniVersion: '1.0.0',
      name: 'sbrnet',
      type: 'sbr',
      ...extra,
      prevResult: prevResult(pod, dev, v4, v6),
    });
    const env = (command: string, pod: string, dev = 'eth0') => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: `ctr-sbr-${n++}`,
      CNI_NETNS: pod,
      CNI_IFNAME: dev,
      CNI_PATH: '/usr/lib/cni',
    });
    const run = (command: string, pod: string, c: unknown, dev = 'eth0') =>
      node.runPlugin(impl.bin, env(command, pod, dev), c);

    it('ADD: a rule per address to tables 100 and 101, each with the default route and the interface routes; main loses them; DEL removes the rules', async () => {
      const pod = podWith(node);
      const c = conf(pod);
      const add = await run('ADD', pod, c);
      expect(add.code, add.stdout + add.stderr).toBe(0);
      expect(add.json.ips.map((i: { address: string }) => i.address)).toEqual(['10.9.0.5/24', 'fd09::5/64']);
      expect(rules(pod)).toEqual([
        { priority: 32765, src: '10.9.0.5', table: '100' },
        { priority: 32765, src: 'fd09::5', table: '101' },
      ]);
      expect(inTable(pod, '100')).toEqual([
        'default via 10.9.0.1 dev eth0',
        '10.9.0.0/24 dev eth0',
        '10.50.0.0/16 via 10.9.0.1 dev eth0',
        'fd09::/64 dev eth0',
        'fe80::/64 dev eth0',
      ]);
      expect(inTable(pod, '101')).toEqual(['fd09::/64 dev eth0', 'fe80::/64 dev eth0', 'default via fd09::1 dev eth0']);
      expect(routes(pod).find((r) => r.table === '100' && r.dst === '10.9.0.0/24')).toMatchObject({
        protocol: 'kernel',
        prefsrc: '10.9.0.5',
      });
      expect(inTable(pod, 'main')).toEqual([]);
      // traffic from the pod address now follows table 100
      expect(sh('ip', ['-j', 'route', 'get', '192.0.2.9', 'from', '10.9.0.5'], { netns: pod })).toContain(
        '"gateway":"10.9.0.1"',
      );

      const del = await run('DEL', pod, c);
      expect(del.code, del.stdout + del.stderr).toBe(0);
      expect(rules(pod)).toEqual([]);
      // ours also empties the tables it picked; the reference leaves their routes until the link goes
      if (impl.name === 'tscni') expect(routes(pod).filter((r) => r.table !== 'main')).toEqual([]);
      expect((await run('DEL', pod, c)).code).toBe(0);
    });

    it('skips tables a rule already uses; a second interface gets the next free tables', async () => {
      const pod = podWith(node);
      sh('ip', ['rule', 'add', 'from', '192.0.2.1', 'table', '100'], { netns: pod });
      podWith(node, 'net1', '10.19.0.5', 'fd19::5', pod);
      expect((await run('ADD', pod, conf(pod))).code).toBe(0);
      const second = await run('ADD', pod, conf(pod, {}, 'net1', '10.19.0.5', 'fd19::5'), 'net1');
      expect(second.code, second.stdout + second.stderr).toBe(0);
      expect(
        rules(pod)
          .map((r) => `${r.src} ${r.table}`)
          .sort(),
      ).toEqual(['10.19.0.5 103', '10.9.0.5 101', '192.0.2.1 100', 'fd09::5 102', 'fd19::5 104']);
      expect(inTable(pod, '103')).toEqual(
        expect.arrayContaining(['10.19.0.0/24 dev net1', '10.60.0.0/16 via 10.19.0.1 dev net1']),
      );
      expect(inTable(pod, '103')).toContain('default via 10.19.0.1 dev net1');
      expect((await run('DEL', pod, conf(pod, {}, 'net1', '10.19.0.5', 'fd19::5'), 'net1')).code).toBe(0);
      expect(
        rules(pod)
          .map((r) => `${r.src} ${r.table}`)
          .sort(),
      ).toEqual(['10.9.0.5 101', '192.0.2.1 100', 'fd09::5 102']);
      expect((await run('DEL', pod, conf(pod))).code).toBe(0);
      expect(rules(pod).map((r) => `${r.src} ${r.table}`)).toEqual(['192.0.2.1 100']);
    });

    it('ADD without prevResult fails and changes nothing', async () => {
      const pod = podWith(node);
      const before = routes(pod);
      const r = await run('ADD', pod, { cniVersion: '1.0.0', name: 'sbrnet', type: 'sbr' });
      expect(r.code).toBe(1);
      expect(r.json.msg).toMatch(/chained plugin/);
      expect(rules(pod)).toEqual([]);
      expect(routes(pod)).toEqual(before);
    });

    describe.skipIf(impl.name !== 'tscni')('fields newer than the reference 1.1.1, CHECK, DEL edges', () => {
      it('`table`: only the rules go to that table, the main table keeps its routes; DEL removes only those rules', async () => {
        const pod = podWith(node);
        sh('ip', ['rule', 'add', 'from', '10.9.0.5', 'table', '600'], { netns: pod });
        const before = inTable(pod, 'main');
        const c = conf(pod, { table: 500 });
        const add = await run('ADD', pod, c);
        expect(add.code, add.stdout + add.stderr).toBe(0);
        expect(
          rules(pod)
            .map((r) => `${r.src} ${r.table}`)
            .sort(),
        ).toEqual(['10.9.0.5 500', '10.9.0.5 600', 'fd09::5 500']);
        expect(inTable(pod, 'main')).toEqual(before);
        expect((await run('CHECK', pod, c)).code).toBe(0);
        expect((await run('DEL', pod, c)).code).toBe(0);
        expect(rules(pod).map((r) => `${r.src} ${r.table}`)).toEqual(['10.9.0.5 600']);
      });

      it('`gateways` replace the IPAM gateways in the default routes', async () => {
        const pod = podWith(node);
        const add = await run('ADD', pod, conf(pod, { gateways: ['10.9.0.254', 'fd09::fe'] }));
        expect(add.code, add.stdout + add.stderr).toBe(0);
        expect(inTable(pod, '100')).toContain('default via 10.9.0.254 dev eth0');
        expect(inTable(pod, '101')).toContain('default via fd09::fe dev eth0');
      });

      it('bad `gateways` and `table` are error 7, before anything changes', async () => {
        const pod = podWith(node);
        for (const bad of [
          { gateways: ['10.0.0.1', '10.0.0.2'] },
          { gateways: ['nope'] },
          { gateways: ['10.0.0.1', 'fd00::1', '10.0.0.3'] },
          { table: -1 },
          { table: 'x' },
        ]) {
          const r = await run('ADD', pod, conf(pod, bad));
          expect(r.json?.code, JSON.stringify(bad)).toBe(7);
        }
        expect(rules(pod)).toEqual([]);
      });

      it('CHECK passes after ADD and fails once a rule is gone', async () => {
        const pod = podWith(node);
        const c = conf(pod);
        expect((await run('ADD', pod, c)).code).toBe(0);
        expect((await run('CHECK', pod, c)).code).toBe(0);
        sh('ip', ['-6', 'rule', 'del', 'from', 'fd09::5', 'table', '101'], { netns: pod });
        const r = await run('CHECK', pod, c);
        expect(r.code).toBe(1);
        expect(r.json.msg).toContain('no rule from fd09::5');
      });

      it('DEL succeeds when the netns or the interface is gone, and still removes the rules by prevResult', async () => {
        expect((await run('DEL', '/var/run/netns/no-such-sbr-ns', conf('/var/run/netns/no-such-sbr-ns'))).code).toBe(0);
        const pod = podWith(node);
        const c = conf(pod);
        expect((await run('ADD', pod, c)).code).toBe(0);
        sh('ip', ['link', 'del', 'eth0'], { netns: pod });
        const r = await run('DEL', pod, c);
        expect(r.code, r.stdout).toBe(0);
        expect(rules(pod)).toEqual([]);
      });
    });
  });
}
