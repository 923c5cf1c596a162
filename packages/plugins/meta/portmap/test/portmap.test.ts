import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  implementations,
  missingForKernelTests,
  startTcpServer,
  tcpRequest,
  udpSend,
  type TcpServer,
} from '@tscni/testing/node';
import { NET, NODE_IP, NODE_IP6, PortmapNode, type Pod } from './fixture';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'nft', 'conntrack']);

// Each suite gets its own host ports so the suites can share one node namespace.
const suites = [
  ...implementations('portmap').map((impl) => ({
    ...impl,
    backend: 'iptables' as const,
    base: impl.name === 'tscni' ? 8000 : 9000,
  })),
  { ...implementations('portmap')[0], backend: 'nftables' as const, base: 10000 },
];

let pm: PortmapNode;
let server: TcpServer;
let server6: TcpServer;
let podA: Pod;
let podB: Pod;
let pod6A: Pod & { ip6?: string };
let pod6B: Pod;
const SERVER_PORT = 80;

beforeAll(async () => {
  if (missing) return;
  pm = new PortmapNode();
  podA = await pm.addPod();
  podB = await pm.addPod();
  server = await startTcpServer(podA.netns, SERVER_PORT, 'podA');
  pod6A = await pm.addPod(true);
  pod6B = await pm.addPod(true);
  server6 = await startTcpServer(pod6A.netns, SERVER_PORT, 'pod6A');
});
afterAll(() => {
  server?.close();
  server6?.close();
  pm?.destroy();
});

for (const s of suites) {
  describe.skipIf(!!missing || !s.present)(
    `portmap ${s.backend} (${s.name})${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      const conf = (
        pod: Pod,
        extra: Record<string, unknown> = {},
        mappings: unknown[] = [{ hostPort: s.base + 80, containerPort: SERVER_PORT, protocol: 'tcp' }],
      ) => ({
        cniVersion: '1.0.0',
        name: NET,
        type: 'portmap',
        ...(s.backend === 'nftables' ? { backend: 'nftables' } : {}),
        ...extra,
        runtimeConfig: { portMappings: mappings },
        prevResult: pod.result,
      });
      const run = (cmd: string, pod: Pod, c: unknown) =>
        pm.node.runPlugin(s.bin, pm.env(cmd, pod.containerID, pod.netns), c);
      const rulesOf = (pod: Pod): string =>
        s.backend === 'iptables'
          ? pm
              .natRules()
              .split('\n')
              .filter((l) => l.includes(`id: \\"${pod.containerID}\\"`) || /CNI-DN-/.test(l))
              .join('\n')
          : pm
              .nftRuleset()
              .split('\n')
              .filter((l) => l.includes(`comment "${pod.containerID}"`))
              .join('\n');

      it('ADD forwards the host port: node, another pod, the pod itself (hairpin) and 127.0.0.1 all reach it; DEL removes every rule', async () => {
        const port = s.base + 80;
        const c = conf(podA);
        const add = await run('ADD', podA, c);
        expect(add.code, add.stdout + add.stderr).toBe(0);
        expect(add.json.ips).toEqual(podA.result.ips);
        try {
          expect(rulesOf(podA)).toContain(`${podA.ip}:${SERVER_PORT}`);
          expect(tcpRequest(pm.node.path, NODE_IP, port)).toMatch(/^podA /);
          expect(tcpRequest(podB.netns, NODE_IP, port)).toMatch(/^podA /);
          // hairpin: the answer must come back through the NAT (source masqueraded to the bridge address)
          expect(tcpRequest(podA.netns, NODE_IP, port)).toMatch(/^podA 10\.77\.0\.1$/);
          expect(tcpRequest(pm.node.path, '127.0.0.1', port)).toMatch(/^podA 10\.77\.0\.1$/);
          if (s.name === 'tscni') {
            const check = await run('CHECK', podA, c);
            expect(check.code, check.stdout).toBe(0);
          }
        } finally {
          const del = await run('DEL', podA, c);
          expect(del.code, del.stdout).toBe(0);
        }
        expect(rulesOf(podA)).toBe('');
        expect(tcpRequest(pm.node.path, NODE_IP, port, 500)).toMatch(/^error/);
        const again = await run('DEL', podA, c);
        expect(again.code, again.stdout).toBe(0);
      });

      it("a repeated ADD replaces the attachment's rules instead of duplicating them", async () => {
        const c = conf(podA, {}, [{ hostPort: s.base + 85, containerPort: SERVER_PORT, protocol: 'tcp' }]);
        expect((await run('ADD', podA, c)).code).toBe(0);
        const once = rulesOf(podA);
        expect((await run('ADD', podA, c)).code).toBe(0);
        expect(rulesOf(podA)).toBe(once);
        expect((await run('DEL', podA, c)).code).toBe(0);
        expect(rulesOf(podA)).toBe('');
      });

      it.skipIf(s.backend !== 'iptables')(
        'a repeated ADD leaves one jump of each kind: the shared ones and the entry rule of the attachment',
        async () => {
          const port = s.base + 100;
          const c = conf(podA, {}, [{ hostPort: port, containerPort: SERVER_PORT, protocol: 'tcp' }]);
          const count = (needle: string) =>
            pm
              .natRules()
              .split('\n')
              .filter((l) => l.includes(needle)).length;
          try {
            for (let i = 0; i < 3; i++) expect((await run('ADD', podA, c)).code).toBe(0);
            for (const chain of ['PREROUTING', 'OUTPUT'])
              expect(count(`-A ${chain} -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT`)).toBe(1);
            expect(count('-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade"')).toBe(1);
            expect(count('-A CNI-HOSTPORT-SETMARK ')).toBe(1);
            expect(count(`--dports ${port} -j CNI-DN-`)).toBe(1);
            expect(count(`--to-destination ${podA.ip}:${SERVER_PORT}`)).toBe(1);
            expect(tcpRequest(pm.node.path, NODE_IP, port)).toMatch(/^podA /);
          } finally {
            expect((await run('DEL', podA, c)).code).toBe(0);
          }
          expect(rulesOf(podA)).toBe('');
        },
      );

      it('a DEL without prevResult, or with other mappings than ADD had, still removes every rule of both families', async () => {
        const prevResult = {
          cniVersion: '1.0.0',
          interfaces: [{ name: 'eth0', sandbox: podB.netns }],
          ips: [
            { address: '10.77.0.202/24', interface: 0 },
            { address: 'fd77::202/64', interface: 0 },
          ],
        };
        const mapping = (port: number) => ({ hostPort: port, containerPort: 80, protocol: 'tcp' });
        const c = { ...conf(podB, {}, [mapping(s.base + 101), mapping(s.base + 102)]), prevResult };
        const { prevResult: _p, ...withoutPrev } = c;
        const otherMappings = { ...c, runtimeConfig: { portMappings: [mapping(s.base + 103)] } };
        for (const delConf of [withoutPrev, otherMappings]) {
          expect((await run('ADD', podB, c)).code).toBe(0);
          expect(rulesOf(podB)).toContain('10.77.0.202:80');
          const del = await run('DEL', podB, delConf);
          expect(del.code, del.stdout).toBe(0);
          expect(rulesOf(podB)).toBe('');
          if (s.backend === 'iptables') {
            expect(pm.natRules(4)).not.toContain('CNI-DN-');
            expect(pm.natRules(6)).not.toContain('CNI-DN-');
          } else expect(pm.nftRuleset()).not.toContain(`comment "${podB.containerID}"`);
        }
      });

      it.skipIf(s.name !== 'tscni' || s.backend !== 'iptables')(
        'a failed ADD on a node whose shared chains are in place leaves nothing of the attachment',
        async () => {
          const ok = conf(podA, {}, [{ hostPort: s.base + 104, containerPort: SERVER_PORT, protocol: 'tcp' }]);
          expect((await run('ADD', podA, ok)).code).toBe(0);
          const before = pm.natRules();
          // a chain that does not exist: the read-free script and the read path both fail
          const bad = conf(podB, { externalSetMarkChain: 'NO-SUCH-CHAIN' }, [
            { hostPort: s.base + 105, containerPort: SERVER_PORT, protocol: 'tcp' },
          ]);
          try {
            const add = await run('ADD', podB, bad);
            expect(add.code).toBe(1);
            expect(add.json.msg).toMatch(/failed to set up port mappings/);
            expect(pm.natRules()).toBe(before);
          } finally {
            expect((await run('DEL', podA, ok)).code).toBe(0);
          }
        },
      );

      it.skipIf(s.name !== 'tscni')(
        'parallel ADDs and DELs of different containers on a fresh node lose nothing',
        async () => {
          if (s.backend === 'iptables') pm.node.exec('iptables-restore', [], { input: '*nat\nCOMMIT\n' });
          else pm.node.exec('nft', ['delete', 'table', 'ip', 'cni_hostport'], { allowFail: true });
          const ids = [0, 1, 2, 3];
          const call = (cmd: string, i: number) => {
            const prevResult = {
              cniVersion: '1.0.0',
              interfaces: [{ name: 'eth0', sandbox: podB.netns }],
              ips: [{ address: `10.77.0.${210 + i}/24`, interface: 0 }],
            };
            const c = {
              ...conf(podB, {}, [{ hostPort: s.base + 20 + i, containerPort: 80, protocol: 'tcp' }]),
              prevResult,
            };
            return pm.node.runPlugin(s.bin, pm.env(cmd, `par-${i}`, podB.netns), c);
          };
          const adds = await Promise.all(ids.map((i) => call('ADD', i)));
          adds.forEach((r) => expect(r.code, r.stdout).toBe(0));
          const rules = s.backend === 'iptables' ? pm.natRules() : pm.nftRuleset();
          for (const i of ids)
            expect(rules).toContain(
              s.backend === 'iptables' ? `--dports ${s.base + 20 + i} -j CNI-DN-` : `dnat to 10.77.0.${210 + i}:80`,
            );
          const dels = await Promise.all(ids.map((i) => call('DEL', i)));
          dels.forEach((r) => expect(r.code, r.stdout).toBe(0));
          const after = s.backend === 'iptables' ? pm.natRules() : pm.nftRuleset();
          for (const i of ids) expect(after).not.toContain(`10.77.0.${210 + i}`);
        },
      );

      it('another pod on the bridge reaches the host port with br_netfilter off too (its source is masqueraded)', async () => {
        const port = s.base + 86;
        const c = conf(podA, {}, [{ hostPort: port, containerPort: SERVER_PORT, protocol: 'tcp' }]);
        pm.node.exec('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=0'], { allowFail: true });
        try {
          expect((await run('ADD', podA, c)).code).toBe(0);
          expect(tcpRequest(podB.netns, NODE_IP, port)).toBe('podA 10.77.0.1');
        } finally {
          pm.node.exec('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=1'], { allowFail: true });
          expect((await run('DEL', podA, c)).code).toBe(0);
        }
      });

      it('IPv6: node and another pod reach [nodeIPv6]:hostPort; both families forwarded; DEL removes both', async () => {
        const port = s.base + 87;
        const c = conf(pod6A, {}, [{ hostPort: port, containerPort: SERVER_PORT, protocol: 'tcp' }]);
        const add = await run('ADD', pod6A, c);
        expect(add.code, add.stdout).toBe(0);
        try {
          expect(tcpRequest(pm.node.path, NODE_IP6, port)).toMatch(/^pod6A /);
          expect(tcpRequest(pod6B.netns, NODE_IP6, port)).toMatch(/^pod6A /);
          expect(tcpRequest(pm.node.path, NODE_IP, port)).toMatch(/^pod6A /);
          if (s.name === 'tscni') expect((await run('CHECK', pod6A, c)).code).toBe(0);
        } finally {
          expect((await run('DEL', pod6A, c)).code).toBe(0);
        }
        expect(rulesOf(pod6A)).toBe('');
        if (s.backend === 'iptables') expect(pm.natRules(6)).not.toContain(pod6A.ip6!);
        expect(tcpRequest(pm.node.path, NODE_IP6, port, 500)).toMatch(/^error/);
      });

      it('a hostIP mapping only answers on that address', async () => {
        const port = s.base + 81;
        const c = conf(podA, {}, [{ hostPort: port, containerPort: SERVER_PORT, protocol: 'tcp', hostIP: NODE_IP }]);
        expect((await run('ADD', podA, c)).code).toBe(0);
        try {
          expect(tcpRequest(pm.node.path, NODE_IP, port)).toMatch(/^podA /);
          expect(tcpRequest(pm.node.path, '10.77.0.1', port, 500)).toMatch(/^error/);
        } finally {
          expect((await run('DEL', podA, c)).code).toBe(0);
        }
        expect(rulesOf(podA)).toBe('');
      });

      it('without snat there are no masquerade marks, and traffic from the node still works', async () => {
        const port = s.base + 82;
        const c = conf(podA, { snat: false }, [{ hostPort: port, containerPort: SERVER_PORT, protocol: 'tcp' }]);
        expect((await run('ADD', podA, c)).code).toBe(0);
        try {
          expect(rulesOf(podA)).not.toMatch(/SETMARK|masquerade/);
          expect(tcpRequest(pm.node.path, NODE_IP, port)).toBe(`podA ${NODE_IP}`);
        } finally {
          expect((await run('DEL', podA, c)).code).toBe(0);
        }
      });

      it('ADD flushes stale UDP conntrack entries for the host ports', async () => {
        const port = s.base + 53;
        udpSend(pm.node.path, NODE_IP, port);
        const entries = () =>
          pm.node.exec('conntrack', ['-L', '-p', 'udp', '--orig-port-dst', String(port)], { allowFail: true }).trim();
        expect(entries()).toContain(`dport=${port}`);
        const c = conf(podA, {}, [{ hostPort: port, containerPort: 53, protocol: 'udp' }]);
        const add = await run('ADD', podA, c);
        expect(add.code, add.stdout).toBe(0);
        expect(entries()).toBe('');
        const del = await run('DEL', podA, c);
        expect(del.code, del.stdout).toBe(0);
      });

      it('no mappings: ADD passes prevResult through and writes nothing; DEL does nothing', async () => {
        const before = s.backend === 'iptables' ? pm.natRules() : pm.nftRuleset();
        const add = await run('ADD', podB, conf(podB, {}, []));
        expect(add.code, add.stdout).toBe(0);
        expect(add.json).toEqual(podB.result);
        expect((await run('DEL', podB, conf(podB, {}, []))).code).toBe(0);
        expect(s.backend === 'iptables' ? pm.natRules() : pm.nftRuleset()).toBe(before);
      });

      it('dual-stack prevResult: rules in both families, all gone after DEL', async () => {
        const prevResult = {
          cniVersion: '1.0.0',
          interfaces: [{ name: 'eth0', sandbox: podB.netns }],
          ips: [
            { address: '10.77.0.200/24', interface: 0 },
            { address: 'fd77::200/64', interface: 0 },
          ],
        };
        const c = {
          ...conf(podB, {}, [
            { hostPort: s.base + 90, containerPort: 90, protocol: 'tcp' },
            { hostPort: s.base + 91, containerPort: 91, protocol: 'sctp' },
          ]),
          prevResult,
        };
        const add = await run('ADD', podB, c);
        expect(add.code, add.stdout).toBe(0);
        if (s.backend === 'iptables') {
          expect(pm.natRules(4)).toContain(`-j DNAT --to-destination 10.77.0.200:90`);
          expect(pm.natRules(6)).toContain(`-j DNAT --to-destination [fd77::200]:90`);
          expect(pm.natRules(6)).toContain(`-p sctp -m sctp --dport ${s.base + 91}`);
        } else {
          expect(rulesOf(podB)).toContain('dnat to 10.77.0.200:90');
          expect(rulesOf(podB)).toContain('dnat to [fd77::200]:90');
        }
        if (s.name === 'tscni') expect((await run('CHECK', podB, c)).code).toBe(0);
        expect((await run('DEL', podB, c)).code).toBe(0);
        expect(rulesOf(podB)).toBe('');
        if (s.backend === 'iptables') expect(pm.natRules(6)).not.toContain('CNI-DN-');
      });

      it.skipIf(s.name !== 'tscni')(
        'GC removes the rules of attachments that are no longer valid, and only those',
        async () => {
          const ca = conf(podA, {}, [{ hostPort: s.base + 70, containerPort: SERVER_PORT, protocol: 'tcp' }]);
          const cb = conf(podB, {}, [{ hostPort: s.base + 71, containerPort: SERVER_PORT, protocol: 'tcp' }]);
          expect((await run('ADD', podA, ca)).code).toBe(0);
          expect((await run('ADD', podB, cb)).code).toBe(0);
          try {
            const { prevResult: _p, runtimeConfig: _r, ...base } = ca;
            const gcConf = {
              ...base,
              cniVersion: '1.1.0',
              'cni.dev/valid-attachments': [{ containerID: podA.containerID, ifname: 'eth0' }],
            };
            const gc = await pm.node.runPlugin(s.bin, { CNI_COMMAND: 'GC', CNI_PATH: '/usr/lib/cni' }, gcConf);
            expect(gc.code, gc.stdout).toBe(0);
            expect(rulesOf(podB)).not.toContain(podB.ip);
            expect(rulesOf(podA)).toContain(podA.ip);
            expect(tcpRequest(pm.node.path, NODE_IP, s.base + 70)).toMatch(/^podA /);
          } finally {
            await run('DEL', podA, ca);
            await run('DEL', podB, cb);
          }
          expect(rulesOf(podA)).toBe('');
        },
      );

      it.skipIf(s.name !== 'tscni' || s.backend !== 'iptables')(
        'a failed ADD rolls back: nothing is left in either family',
        async () => {
          // KUBE-MARK-MASQ exists only in the IPv4 table, so the IPv6 half fails after the IPv4 half was written
          pm.node.exec('iptables', ['-t', 'nat', '-N', 'KUBE-MARK-MASQ'], { allowFail: true });
          const prevResult = {
            cniVersion: '1.0.0',
            interfaces: [{ name: 'eth0', sandbox: podB.netns }],
            ips: [
              { address: '10.77.0.201/24', interface: 0 },
              { address: 'fd77::201/64', interface: 0 },
            ],
          };
          const c = {
            ...conf(podB, { externalSetMarkChain: 'KUBE-MARK-MASQ' }, [
              { hostPort: s.base + 95, containerPort: 95, protocol: 'tcp' },
            ]),
            prevResult,
          };
          const add = await run('ADD', podB, c);
          expect(add.code).toBe(1);
          expect(add.json.msg).toMatch(/port mappings/);
          expect(pm.natRules(4)).not.toContain('10.77.0.201');
          expect(pm.natRules(6)).not.toContain('fd77::201');
        },
      );

      for (const version of ['0.3.1', '0.4.0']) {
        it(`ADD and DEL at ${version} (prevResult in that version's shape)`, async () => {
          const prevResult = {
            ...podA.result,
            cniVersion: version,
            ips: (podA.result.ips as object[]).map((ip) => ({ ...ip, version: '4' })),
          };
          const c = {
            ...conf(podA, {}, [{ hostPort: s.base + 60, containerPort: SERVER_PORT, protocol: 'tcp' }]),
            cniVersion: version,
            prevResult,
          };
          const add = await run('ADD', podA, c);
          expect(add.code, add.stdout).toBe(0);
          expect(add.json.cniVersion).toBe(version);
          expect(add.json.ips[0].version).toBe('4');
          expect(tcpRequest(pm.node.path, NODE_IP, s.base + 60)).toMatch(/^podA /);
          expect((await run('DEL', podA, c)).code).toBe(0);
          expect(rulesOf(podA)).toBe('');
        });
      }

      it.skipIf(s.name !== 'tscni')(
        "conditions in the other backend's syntax or with separators are refused (error 7 naming the field)",
        async () => {
          const otherSyntax = s.backend === 'iptables' ? ['ip', 'saddr', '10.0.0.0/8'] : ['-s', '10.0.0.0/8'];
          // and tokens that would smuggle a second rule or command into the batch
          const injection =
            s.backend === 'iptables'
              ? ['-s', '10.0.0.0/8 -j ACCEPT']
              : ['ip', 'saddr', '10.0.0.0/8;', 'flush', 'ruleset'];
          for (const conds of [otherSyntax, injection]) {
            const r = await run('ADD', podA, conf(podA, { backend: s.backend, conditionsV4: conds }));
            expect(r.code).toBe(1);
            expect(r.json).toMatchObject({ code: 7 });
            expect(r.json.msg).toContain('conditionsV4');
          }
        },
      );

      it.skipIf(s.name !== 'tscni' || s.backend !== 'nftables')(
        'without backend, nft-syntax conditions select the nftables backend',
        async () => {
          const c = {
            ...conf(podA, { conditionsV4: ['ip', 'saddr', '!=', '10.98.0.0/16'] }, [
              { hostPort: s.base + 42, containerPort: SERVER_PORT, protocol: 'tcp' },
            ]),
          } as Record<string, unknown>;
          delete c.backend;
          expect((await run('ADD', podA, c)).code).toBe(0);
          try {
            expect(pm.node.exec('nft', ['list', 'table', 'ip', 'cni_hostport'])).toContain(
              `dport ${s.base + 42} dnat to ${podA.ip}:80`,
            );
          } finally {
            expect((await run('DEL', podA, c)).code).toBe(0);
            const plain = conf(podA, {}, [{ hostPort: s.base + 43, containerPort: 80, protocol: 'tcp' }]);
            expect((await run('ADD', podA, plain)).code).toBe(0);
            expect((await run('DEL', podA, plain)).code).toBe(0);
          }
          expect(pm.nftRuleset()).not.toContain(`comment "${podA.containerID}"`);
        },
      );

      it.skipIf(s.backend !== 'nftables')('nft conditions guard the entry rules', async () => {
        const c = conf(podA, { conditionsV4: ['ip', 'saddr', '!=', '10.99.0.0/16'] }, [
          { hostPort: s.base + 40, containerPort: SERVER_PORT, protocol: 'tcp' },
        ]);
        expect((await run('ADD', podA, c)).code).toBe(0);
        try {
          const table = pm.node.exec('nft', ['list', 'table', 'ip', 'cni_hostport']);
          expect(table).toMatch(
            /chain prerouting \{[^}]*ip saddr != 10\.99\.0\.0\/16 fib daddr type local jump hostports_all/,
          );
          expect(tcpRequest(pm.node.path, NODE_IP, s.base + 40)).toMatch(/^podA /);
        } finally {
          expect((await run('DEL', podA, c)).code).toBe(0);
          // later suites run without conditions
          expect(
            (await run('ADD', podA, conf(podA, {}, [{ hostPort: s.base + 41, containerPort: 80, protocol: 'tcp' }])))
              .code,
          ).toBe(0);
          expect(
            (await run('DEL', podA, conf(podA, {}, [{ hostPort: s.base + 41, containerPort: 80, protocol: 'tcp' }])))
              .code,
          ).toBe(0);
        }
      });

      it('refuses a missing prevResult and bad mappings', async () => {
        const { prevResult: _p, ...noPrev } = conf(podA);
        const r1 = await run('ADD', podA, noPrev);
        expect(r1.code).toBe(1);
        expect(r1.stdout).toMatch(/chained plugin/);
        for (const bad of [
          conf(podA, { markMasqBit: 40 }),
          conf(podA, { markMasqBit: 3, externalSetMarkChain: 'KUBE-MARK-MASQ' }),
          conf(podA, {}, [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }]),
        ]) {
          const r = await run('ADD', podA, bad);
          expect(r.code, JSON.stringify(bad)).toBe(1);
          if (s.name === 'tscni') expect(r.json.code).toBe(7);
          expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
        }
      });
    },
  );
}
