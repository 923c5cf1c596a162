import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  REFERENCE_BIN,
  TestNode,
  implementations,
  missingForKernelTests,
  startTcpServer,
  tcpRequest,
  type TcpServer,
} from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'nft']);
const NET = 'fwnet';
// Filtering between ports of one bridge needs bridged packets to traverse iptables/nft (br_netfilter).
const noBrNetfilter = !existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables');

interface Pod {
  netns: string;
  containerID: string;
  ip: string;
  result: Record<string, unknown>;
}

const suites = [
  ...implementations('firewall').map((impl) => ({ ...impl, backend: 'iptables' as const })),
  { ...implementations('firewall')[0], backend: 'nftables' as const },
];

let node: TestNode;
const pods: Record<'a1' | 'a2' | 'b1', Pod> = {} as never;
const servers: TcpServer[] = [];
const env = (command: string, pod: Pod) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: pod.containerID,
  CNI_NETNS: pod.netns,
  CNI_IFNAME: 'eth0',
  CNI_PATH: REFERENCE_BIN,
});

/** Pods a1, a2 on bridge fwbr0 and b1 on fwbr1 (reference bridge + host-local), each serving TCP on port 80. */
beforeAll(async () => {
  if (missing) return;
  node = new TestNode('fw');
  if (!noBrNetfilter)
    node.exec('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1']);
  const layout: [keyof typeof pods, string, string][] = [
    ['a1', 'fwbr0', '10.78.0.0/24'],
    ['a2', 'fwbr0', '10.78.0.0/24'],
    ['b1', 'fwbr1', '10.79.0.0/24'],
  ];
  for (const [name, bridge, subnet] of layout) {
    const netns = node.addPod(name);
    const pod = { netns, containerID: `fw-${name}`, ip: '', result: {} };
    const conf = {
      cniVersion: '1.0.0',
      name: `br-${bridge}`,
      type: 'bridge',
      bridge,
      isDefaultGateway: true,
      ipam: { type: 'host-local', subnet, dataDir: join(node.tmp, 'ipam') },
    };
    const r = await node.runPlugin(join(REFERENCE_BIN, 'bridge'), env('ADD', pod), conf);
    if (r.code !== 0) throw new Error(`bridge ADD: ${r.stdout}`);
    pods[name] = { ...pod, ip: r.json.ips[0].address.split('/')[0], result: r.json };
    servers.push(await startTcpServer(netns, 80, name));
  }
});
afterAll(() => {
  servers.forEach((s) => s.close());
  node?.destroy();
});

// (a refused connection is awaited for 400 ms, an allowed one may take its time)
const reaches = (from: Pod, to: Pod, timeout = 2000) =>
  tcpRequest(from.netns, to.ip, 80, timeout).startsWith(`${Object.entries(pods).find(([, p]) => p === to)![0]} `);

for (const s of suites) {
  describe.skipIf(!!missing || !s.present)(
    `firewall ${s.backend} (${s.name})${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      const conf = (pod: Pod, extra: Record<string, unknown> = {}) => ({
        cniVersion: '1.0.0',
        name: NET,
        type: 'firewall',
        backend: s.backend,
        ...extra,
        prevResult: pod.result,
      });
      const run = (cmd: string, pod: Pod, c: unknown) => node.runPlugin(s.bin, env(cmd, pod), c);
      const rulesFor = (pod: Pod): string[] =>
        s.backend === 'iptables'
          ? node
              .exec('iptables-save', ['-t', 'filter'])
              .split('\n')
              .filter((l) => l.includes(`${pod.ip}/32`))
          : node
              .exec('nft', ['list', 'ruleset'])
              .split('\n')
              .filter((l) => l.includes(` ${pod.ip} `));

      // The shared chains outlive DEL by design (as in the reference); wipe them between tests.
      afterEach(() => {
        for (const restore of ['iptables-restore', 'ip6tables-restore'])
          node.exec(restore, [], {
            input: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n',
          });
        node.exec('nft', ['delete', 'table', 'inet', 'cni_firewall'], { allowFail: true });
      });

      async function addAll(extra: Record<string, unknown>): Promise<void> {
        for (const pod of Object.values(pods)) {
          const r = await run('ADD', pod, conf(pod, extra));
          expect(r.code, r.stdout + r.stderr).toBe(0);
          expect(r.json.ips).toEqual(pod.result.ips);
        }
      }
      async function delAll(extra: Record<string, unknown>): Promise<void> {
        for (const pod of Object.values(pods)) {
          const r = await run('DEL', pod, conf(pod, extra));
          expect(r.code, r.stdout).toBe(0);
          expect(rulesFor(pod)).toEqual([]);
        }
      }

      it('ADD accepts the pod addresses (CHECK passes); DEL removes every per-pod rule', async () => {
        await addAll({});
        try {
          expect(rulesFor(pods.a1).length).toBe(2);
          if (s.backend === 'iptables') {
            const saved = node.exec('iptables-save', ['-t', 'filter']);
            expect(saved).toContain('-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD');
            expect(saved).toContain(
              '-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN',
            );
            // ours tags each per-address rule with its attachment (so DEL without prevResult and GC find it)
            const tag = s.name === 'tscni' ? ' -m comment --comment "tscni-fw n=[0-9a-f]{12} a=[0-9a-f]{16}"' : '';
            const ip = pods.a1.ip.replace(/\./g, '\\.');
            expect(saved).toMatch(
              new RegExp(
                `^-A CNI-FORWARD -d ${ip}/32 -m conntrack --ctstate RELATED,ESTABLISHED${tag} -j ACCEPT$`,
                'm',
              ),
            );
            expect(saved).toMatch(new RegExp(`^-A CNI-FORWARD -s ${ip}/32${tag} -j ACCEPT$`, 'm'));
          }
          for (const pod of Object.values(pods)) {
            const check = await run('CHECK', pod, conf(pod));
            expect(check.code, check.stdout).toBe(0);
          }
          expect(reaches(pods.a1, pods.b1)).toBe(true);
        } finally {
          await delAll({});
        }
      });

      it.skipIf(s.backend !== 'iptables')(
        'with a FORWARD DROP policy only pods with accept rules get through',
        async () => {
          node.exec('iptables', ['-P', 'FORWARD', 'DROP']);
          await addAll({});
          expect(reaches(pods.a1, pods.b1)).toBe(true);
          expect(reaches(pods.b1, pods.a1)).toBe(true);
          await delAll({});
          expect(reaches(pods.a1, pods.b1, 400)).toBe(false);
        },
      );

      it('same-bridge: pods on one bridge talk, pods on different bridges cannot', async () => {
        await addAll({ ingressPolicy: 'same-bridge' });
        try {
          expect(reaches(pods.a1, pods.a2)).toBe(true);
          expect(reaches(pods.a1, pods.b1, 400)).toBe(false);
          expect(reaches(pods.b1, pods.a1, 400)).toBe(false);
        } finally {
          await delAll({ ingressPolicy: 'same-bridge' });
        }
      });

      it.skipIf(s.name !== 'tscni' || noBrNetfilter)(
        `isolated: not even pods on the same bridge talk${noBrNetfilter ? ' — skipped: needs br_netfilter' : ''}`,
        async () => {
          await addAll({ ingressPolicy: 'isolated' });
          try {
            expect(reaches(pods.a1, pods.a2, 400)).toBe(false);
            expect(reaches(pods.a1, pods.b1, 400)).toBe(false);
          } finally {
            await delAll({ ingressPolicy: 'isolated' });
          }
        },
      );

      it('dual-stack: accept rules in both families, gone after DEL', async () => {
        const prevResult = {
          cniVersion: '1.0.0',
          interfaces: [{ name: 'fwbr0' }, { name: 'eth0', sandbox: pods.a2.netns }],
          ips: [
            { address: '10.78.0.250/24', interface: 1 },
            { address: 'fd78::250/64', interface: 1 },
          ],
        };
        const c = { ...conf(pods.a2), prevResult };
        expect((await run('ADD', pods.a2, c)).code).toBe(0);
        const v6 = () =>
          s.backend === 'iptables'
            ? node.exec('ip6tables-save', ['-t', 'filter'])
            : node.exec('nft', ['list', 'ruleset']);
        expect(v6()).toMatch(
          s.backend === 'iptables'
            ? /-A CNI-FORWARD -s fd78::250\/128 (-m comment --comment "[^"]+" )?-j ACCEPT/
            : /ip6 saddr fd78::250 accept/,
        );
        expect(v6()).toMatch(
          s.backend === 'iptables'
            ? /-A CNI-FORWARD -d fd78::250\/128 -m conntrack --ctstate RELATED,ESTABLISHED (-m comment --comment "[^"]+" )?-j ACCEPT/
            : /ip6 daddr fd78::250 ct state established,related accept/,
        );
        if (s.name === 'tscni') expect((await run('CHECK', pods.a2, c)).code).toBe(0);
        expect((await run('DEL', pods.a2, c)).code).toBe(0);
        expect(v6()).not.toContain('fd78::250');
        expect(s.backend === 'iptables' ? node.exec('iptables-save', ['-t', 'filter']) : v6()).not.toContain(
          '10.78.0.250',
        );
      });

      it.skipIf(s.name !== 'tscni')('parallel ADDs and DELs on a fresh node lose nothing', async () => {
        const ids = [0, 1, 2, 3];
        const call = (cmd: string, i: number) => {
          const prevResult = {
            cniVersion: '1.0.0',
            interfaces: [{ name: 'eth0', sandbox: pods.a1.netns }],
            ips: [{ address: `10.78.0.${220 + i}/24`, interface: 0 }],
          };
          return node.runPlugin(
            s.bin,
            { ...env(cmd, pods.a1), CNI_CONTAINERID: `par-${i}` },
            { ...conf(pods.a1), prevResult },
          );
        };
        const ruleset = () =>
          s.backend === 'iptables'
            ? node.exec('iptables-save', ['-t', 'filter'])
            : node.exec('nft', ['list', 'ruleset']);
        (await Promise.all(ids.map((i) => call('ADD', i)))).forEach((r) => expect(r.code, r.stdout).toBe(0));
        for (const i of ids)
          expect(ruleset()).toContain(
            s.backend === 'iptables' ? `-s 10.78.0.${220 + i}/32 ` : `ip saddr 10.78.0.${220 + i} accept`,
          );
        if (s.backend === 'iptables') expect(ruleset().match(/-j CNI-FORWARD/g)).toHaveLength(1);
        (await Promise.all(ids.map((i) => call('DEL', i)))).forEach((r) => expect(r.code, r.stdout).toBe(0));
        for (const i of ids) expect(ruleset()).not.toContain(`10.78.0.${220 + i}`);
      });

      it('DEL without prevResult succeeds (and is idempotent)', async () => {
        const { prevResult: _p, ...noPrev } = conf(pods.a1);
        const add = await run('ADD', pods.a1, conf(pods.a1));
        expect(add.code).toBe(0);
        for (let i = 0; i < 2; i++) {
          const del = await run('DEL', pods.a1, noPrev);
          expect(del.code, del.stdout).toBe(0);
        }
        // ours tags its rules with the attachment (both backends), so even a DEL without prevResult removes
        // them; the reference's iptables rules carry only the address, and stay (its weak spot)
        if (s.name === 'tscni') expect(rulesFor(pods.a1)).toEqual([]);
        else expect(rulesFor(pods.a1)).toHaveLength(2);
        await run('DEL', pods.a1, conf(pods.a1));
        expect(rulesFor(pods.a1)).toEqual([]);
      });

      it('ADD, CHECK and DEL at 0.4.0 (prevResult in that shape)', async () => {
        const prevResult = {
          ...pods.a1.result,
          cniVersion: '0.4.0',
          ips: (pods.a1.result.ips as object[]).map((ip) => ({ ...ip, version: '4' })),
        };
        const c = { ...conf(pods.a1), cniVersion: '0.4.0', prevResult };
        const add = await run('ADD', pods.a1, c);
        expect(add.code, add.stdout).toBe(0);
        expect(add.json).toMatchObject({ cniVersion: '0.4.0', ips: [{ version: '4', address: `${pods.a1.ip}/24` }] });
        expect(rulesFor(pods.a1).length).toBe(2);
        expect((await run('CHECK', pods.a1, c)).code).toBe(0);
        expect((await run('DEL', pods.a1, c)).code).toBe(0);
        expect(rulesFor(pods.a1)).toEqual([]);
      });

      it('refuses a missing prevResult on ADD and versions before 0.4.0', async () => {
        const { prevResult: _p, ...noPrev } = conf(pods.a1);
        const r = await run('ADD', pods.a1, noPrev);
        expect(r.code).toBe(1);
        expect(r.stdout).toMatch(/prevResult/);
        const old = await run('ADD', pods.a1, { ...conf(pods.a1), cniVersion: '0.3.1' });
        expect(old.json.code).toBe(1);
        expect(r.stdout + r.stderr + old.stdout).not.toMatch(/\n\s+at /);
      });

      it.skipIf(s.name !== 'tscni')('bad config gets error 7 naming the field', async () => {
        for (const [extra, field] of [
          [{ ingressPolicy: 'bogus' }, 'ingressPolicy'],
          [{ backend: 'ufw' }, 'backend'],
          [{ iptablesAdminChainName: 'bad name' }, 'iptablesAdminChainName'],
        ] as const) {
          const r = await run('ADD', pods.a1, conf(pods.a1, extra));
          expect(r.code).toBe(1);
          expect(r.json.code).toBe(7);
          expect(r.json.msg).toContain(field);
        }
      });

      it.skipIf(s.name !== 'tscni')(
        'GC removes the rules of attachments that are no longer valid, and only of its network',
        async () => {
          await addAll({});
          const other = { ...pods.a2, containerID: 'fw-other-net' };
          const otherConf = {
            ...conf(other),
            name: 'othernet',
            prevResult: { ...pods.a2.result, ips: [{ address: '10.78.0.251/24', interface: 1 }] },
          };
          expect((await run('ADD', other, otherConf)).code).toBe(0);
          try {
            const gc = await node.runPlugin(
              s.bin,
              { CNI_COMMAND: 'GC', CNI_PATH: REFERENCE_BIN },
              {
                cniVersion: '1.1.0',
                name: NET,
                type: 'firewall',
                backend: s.backend,
                'cni.dev/valid-attachments': [{ containerID: pods.a1.containerID, ifname: 'eth0' }],
              },
            );
            expect(gc.code, gc.stdout).toBe(0);
            expect(rulesFor(pods.a1).length).toBe(2);
            expect(rulesFor(pods.a2)).toEqual([]);
            expect(rulesFor(pods.b1)).toEqual([]);
            expect(rulesFor({ ...other, ip: '10.78.0.251' }), "another network's rules").toHaveLength(2);
          } finally {
            await delAll({});
            await run('DEL', other, otherConf);
          }
        },
      );
    },
  );
}

describe.skipIf(!!missing || !implementations('firewall')[1].present)(
  'firewall iptables interop with the reference',
  () => {
    const [ours, ref] = implementations('firewall');
    const save = () =>
      node
        .exec('iptables-save', ['-t', 'filter'])
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n');
    afterEach(
      () =>
        void node.exec('iptables-restore', [], {
          input: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n',
        }),
    );
    const untagged = (saved: string) =>
      saved.replace(/ -m comment --comment "tscni-fw n=[0-9a-f]{12} a=[0-9a-f]{16}"/g, '');
    for (const policy of ['open', 'same-bridge']) {
      it(`${policy}: the reference's ruleset plus our tags; ours CHECKs and DELs the reference's rules`, async () => {
        const c = {
          cniVersion: '1.0.0',
          name: NET,
          type: 'firewall',
          backend: 'iptables',
          ingressPolicy: policy,
          prevResult: pods.a1.result,
        };
        const run = (bin: string, cmd: string, conf: object = c) => node.runPlugin(bin, env(cmd, pods.a1), conf);
        expect((await run(ref.bin, 'ADD')).code).toBe(0);
        const theirs = save();
        expect((await run(ours.bin, 'CHECK')).code).toBe(0);
        expect((await run(ours.bin, 'DEL')).code).toBe(0);
        expect(save()).not.toContain(pods.a1.ip);
        node.exec('iptables-restore', [], {
          input: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n',
        });
        expect((await run(ours.bin, 'ADD')).code).toBe(0);
        expect(untagged(save())).toBe(theirs);
        // The reference DELs by the untagged rule, so it leaves ours' tagged rules (exit 0): a node rolled back
        // to the reference with pods of ours running keeps their accept rules until our DEL or GC runs.
        expect((await run(ref.bin, 'DEL')).code).toBe(0);
        expect(save()).toContain(pods.a1.ip);
        const { prevResult: _p, ...noPrev } = c;
        expect((await run(ours.bin, 'DEL', noPrev)).code).toBe(0);
        expect(save()).not.toContain(pods.a1.ip);
      });
    }
  },
);
