import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, REFERENCE_BIN, TestNode, addrsIn, linksIn, missingForKernelTests, sh } from '@tscni/testing/node';
import { Crictl, CrictlError } from '@tscni/testing/crictl';
import {
  HarnessProcess,
  harnessDirs,
  killPauses,
  pauseProcessesOf,
  recordsIn,
  type HarnessOptions,
} from '@tscni/testing/harness-process';
import { RECORDER_DIR } from '@tscni/testing/fake-plugin';

const PLUGINS = ['loopback', 'bridge', 'host-local', 'portmap', 'bandwidth'];
const missingKernel = missingForKernelTests(['ip', 'nsenter', 'unshare', 'flock', 'iptables-save', 'tc']);
/** The same suite with our plugins and with Debian's reference ones as the CNI bin dir. */
const PLUGIN_SETS = [
  { name: 'tscni', dir: DIST_BIN },
  { name: 'reference', dir: REFERENCE_BIN },
];
const FIXTURES = RECORDER_DIR;

/** crictl's pod.json for a pod on the pod network (snake_case keys, integer enums). */
const pod = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    metadata: { name, namespace: 'web', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    log_directory: '/tmp',
    dns_config: { servers: ['10.96.0.10'], searches: ['web.svc.cluster.local'], options: ['ndots:5'] },
    port_mappings: [
      { protocol: 0, container_port: 80, host_port: 18080, host_ip: '' },
      { protocol: 1, container_port: 53, host_port: 0 },
    ],
    labels: { app: name },
    annotations: { 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': '2M' },
    linux: {},
    ...extra,
  });

async function failure(p: Promise<unknown>): Promise<CrictlError> {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err, 'expected the call to fail').toBeInstanceOf(CrictlError);
  return err as CrictlError;
}

async function until(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const plugins of PLUGIN_SETS) {
  const absent = PLUGINS.filter((p) => !existsSync(join(plugins.dir, p)));
  const missing = missingKernel ?? (absent.length ? `needs ${absent.join(', ')} in ${plugins.dir}` : undefined);
  describe.skipIf(!!missing)(
    `cri-harness pod networking through libcni, ${plugins.name} plugins${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      let node: TestNode;
      let opts: HarnessOptions;
      let harness: HarnessProcess;
      let crictl: Crictl;
      let rec: string;
      let ipam: string;
      const netnsSeen = new Set<string>();

      const calls = (): { command: string; env: Record<string, string>; conf: any }[] =>
        existsSync(join(rec, 'calls.jsonl'))
          ? readFileSync(join(rec, 'calls.jsonl'), 'utf8')
              .trim()
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l))
          : [];
      const hostVeths = () => linksIn(node.name).filter((l) => l.master === 'cri0');
      const leases = () =>
        existsSync(join(ipam, 'crinet'))
          ? readdirSync(join(ipam, 'crinet')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
          : [];
      const cacheFiles = () =>
        existsSync(join(opts.cacheDir, 'results')) ? readdirSync(join(opts.cacheDir, 'results')) : [];
      const natRules = () => node.exec('iptables-save', ['-t', 'nat']);
      const inspect = async (id: string) => {
        const r = await crictl.inspectp(id);
        if (r.info?.netns) netnsSeen.add(r.info.netns);
        return r;
      };

      /** Everything a pod can leave behind is gone. */
      const expectNothingLeft = () => {
        for (const c of calls()) if (c.env.CNI_NETNS) netnsSeen.add(c.env.CNI_NETNS);
        for (const ns of netnsSeen) expect(existsSync(ns), ns).toBe(false);
        expect(hostVeths()).toEqual([]);
        expect(leases()).toEqual([]);
        expect(cacheFiles()).toEqual([]);
        expect(natRules()).not.toContain('18080');
        expect(pauseProcessesOf(opts.stateDir)).toEqual([]);
        expect(recordsIn(opts.stateDir)).toEqual([]);
      };

      beforeAll(async () => {
        node = new TestNode('crn');
        const dir = (d: string) => {
          mkdirSync(join(node.tmp, d), { recursive: true });
          return join(node.tmp, d);
        };
        rec = dir('rec');
        ipam = dir('ipam');
        opts = harnessDirs(node.tmp, [plugins.dir, FIXTURES]);
        const recorderCaps = {
          portMappings: true,
          bandwidth: true,
          dns: true,
          'io.kubernetes.cri.pod-annotations': true,
        };
        writeFileSync(
          join(opts.confDir, '10-crinet.conflist'),
          JSON.stringify({
            cniVersion: '1.0.0',
            name: 'crinet',
            plugins: [
              {
                type: 'bridge',
                bridge: 'cri0',
                isGateway: true,
                ipam: {
                  type: 'host-local',
                  ranges: [[{ subnet: '10.123.0.0/24' }]],
                  routes: [{ dst: '0.0.0.0/0' }],
                  dataDir: ipam,
                },
              },
              { type: 'portmap', capabilities: { portMappings: true } },
              { type: 'bandwidth', capabilities: { bandwidth: true } },
              { type: 'recorder', recordDir: rec, capabilities: recorderCaps },
            ],
          }),
        );
        harness = await HarnessProcess.start(node, opts);
        // crictl -t 10s: a CNI chain of Node.js plugins can take longer than crictl's 2 s default on a busy machine.
        crictl = new Crictl(opts.socket, 10_000);
      });

      afterAll(async () => {
        // A failed test may leave pods: remove them through the harness so their networks are torn down.
        for (const p of (await crictl?.pods().catch(() => [])) ?? [])
          await crictl.rmp((p as any).id, true).catch(() => {});
        await harness?.stop();
        if (opts) killPauses(opts.stateDir);
        for (const ns of netnsSeen)
          if (existsSync(ns)) sh('ip', ['netns', 'delete', basename(ns)], { allowFail: true });
        node?.destroy();
      });

      it('reports NetworkReady with the conf dir loaded', async () => {
        const info = await crictl.info();
        expect(info.status.conditions).toContainEqual({ type: 'NetworkReady', status: true, reason: '', message: '' });
        expect(info.cniconfig).toMatchObject({ source: opts.confDir, network: { name: 'crinet' } });
      });

      it('runp → the pod netns has its address; inspectp, pods, stopp and rmp leave nothing behind', async () => {
        const id = await crictl.runp(pod('nginx'));
        const { status, info } = await inspect(id);
        expect(status).toMatchObject({
          id,
          state: 'SANDBOX_READY',
          metadata: { name: 'nginx', namespace: 'web' },
          linux: { namespaces: { options: { network: 'POD' } } },
        });
        const ip = status.network.ip as string;
        expect(ip).toMatch(/^10\.123\.0\.\d+$/);
        expect(status.network.additional_ips).toEqual([]);

        // The netns: pinned at /var/run/netns/cni-<uuid>, eth0 with the pod IP, lo up; the pause process in it.
        expect(info.netns).toMatch(
          /^\/var\/run\/netns\/cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        );
        expect(addrsIn(info.netns, 'eth0')).toEqual([`${ip}/24`]);
        expect(linksIn(info.netns).find((l) => l.ifname === 'lo')!.flags).toContain('UP');
        expect(statSync(`/proc/${info.pid}/ns/net`).ino).toBe(statSync(info.netns).ino);
        expect(sh('nsenter', [`--target=${info.pid}`, '--uts', '--', 'hostname']).trim()).toBe('nginx');
        expect(info.cniResult).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: `${ip}/24` }] });
        // Real traffic: the node reaches the pod over the bridge.
        expect(node.exec('ping', ['-c', '1', '-W', '2', ip])).toContain('1 received');
        expect(info.cniResult.interfaces).toContainEqual(
          expect.objectContaining({ name: 'eth0', sandbox: info.netns }),
        );

        // What the plugins were handed: containerd's CNI_ARGS and the capability args from the pod config.
        const add = calls().find((c) => c.command === 'ADD' && c.env.CNI_CONTAINERID === id)!;
        expect(add.env).toMatchObject({ CNI_NETNS: info.netns, CNI_IFNAME: 'eth0', CNI_PATH: opts.binDirs.join(':') });
        expect(add.env.CNI_ARGS.split(';').sort()).toEqual([
          'IgnoreUnknown=1',
          'K8S_POD_INFRA_CONTAINER_ID=' + id,
          'K8S_POD_NAME=nginx',
          'K8S_POD_NAMESPACE=web',
          'K8S_POD_UID=uid-nginx',
        ]);
        expect(add.conf.runtimeConfig).toEqual({
          portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }],
          bandwidth: { ingressRate: 1000000, ingressBurst: 4294967295, egressRate: 2000000, egressBurst: 4294967295 },
          dns: { servers: ['10.96.0.10'], searches: ['web.svc.cluster.local'], options: ['ndots:5'] },
          'io.kubernetes.cri.pod-annotations': {
            'kubernetes.io/ingress-bandwidth': '1M',
            'kubernetes.io/egress-bandwidth': '2M',
          },
        });

        // ...and what the reference plugins did with them on the node.
        const [veth] = hostVeths();
        expect(veth).toBeDefined();
        expect(natRules()).toMatch(new RegExp(`--dport 18080 .*--to-destination ${ip.replace(/\./g, '\\.')}:80`));
        const qdiscs = JSON.parse(node.exec('tc', ['-j', 'qdisc', 'show', 'dev', veth.ifname])) as { kind: string }[];
        expect(qdiscs.map((q) => q.kind)).toContain('tbf');
        expect(leases()).toEqual([ip]);
        expect(cacheFiles().sort()).toEqual([`cni-loopback-${id}-lo`, `crinet-${id}-eth0`]);

        const listed = await crictl.pods({ labels: { app: 'nginx' } });
        expect(listed.map((p: any) => [p.id, p.state])).toEqual([[id, 'SANDBOX_READY']]);

        await crictl.stopp(id.slice(0, 13));
        const stopped = await inspect(id);
        expect(stopped.status).toMatchObject({ state: 'SANDBOX_NOTREADY', network: { ip: '' } });
        expect(stopped.info).toMatchObject({ netns: '', netNamespaceClosed: true });
        const del = calls().find((c) => c.command === 'DEL' && c.env.CNI_CONTAINERID === id)!;
        expect(del.conf.prevResult.ips[0].address).toBe(`${ip}/24`);
        expect(existsSync(info.netns)).toBe(false);
        expect(hostVeths()).toEqual([]);
        expect(leases()).toEqual([]);
        expect(existsSync(`/proc/${info.pid}`)).toBe(false);

        await crictl.stopp(id); // idempotent
        await crictl.rmp(id);
        expect(await crictl.pods()).toEqual([]);
        expectNothingLeft();
      });

      it('runs pods concurrently, each with its own netns and address', async () => {
        const ids = await Promise.all(['c0', 'c1', 'c2', 'c3'].map((n) => crictl.runp(pod(n, { port_mappings: [] }))));
        const statuses = await Promise.all(ids.map((id) => inspect(id)));
        const ips = statuses.map((s) => s.status.network.ip);
        expect(new Set(ips).size).toBe(4);
        expect(new Set(statuses.map((s) => s.info.netns)).size).toBe(4);
        for (const s of statuses) expect(addrsIn(s.info.netns, 'eth0')).toEqual([`${s.status.network.ip}/24`]);
        expect(leases().sort()).toEqual([...ips].sort());
        // Each veth's host end on the node, and nothing else in any pod: the harness enters pods for an instant
        // (in-process sysctls and netlink) while another pod's `ip` may be placing its host end.
        expect(hostVeths()).toHaveLength(4);
        for (const s of statuses)
          expect(
            linksIn(s.info.netns)
              .map((l) => l.ifname)
              .sort(),
            s.info.netns,
          ).toEqual(['eth0', 'lo']);
        await Promise.all(ids.map((id) => crictl.rmp(id, true)));
        expectNothingLeft();
      });

      it('reports the first IPv4 address as the pod IP and the IPv6 one as additional (dual stack)', async () => {
        const conf = join(opts.confDir, '05-dual.conflist');
        writeFileSync(
          conf,
          JSON.stringify({
            cniVersion: '1.0.0',
            name: 'dualnet',
            plugins: [
              {
                type: 'bridge',
                bridge: 'cri1',
                isGateway: true,
                ipam: {
                  type: 'host-local',
                  ranges: [[{ subnet: 'fd12:3456::/64' }], [{ subnet: '10.124.0.0/24' }]],
                  dataDir: ipam,
                },
              },
            ],
          }),
        );
        try {
          const id = await crictl.runp(pod('dual', { port_mappings: [], annotations: {} }));
          const { status, info } = await inspect(id);
          expect(status.network.ip).toMatch(/^10\.124\.0\.\d+$/);
          expect(status.network.additional_ips).toEqual([{ ip: expect.stringMatching(/^fd12:3456::/) }]);
          expect(addrsIn(info.netns, 'eth0').sort()).toEqual(
            [`${status.network.additional_ips[0].ip}/64`, `${status.network.ip}/24`].sort(),
          );
          await crictl.rmp(id, true);
          expect(linksIn(node.name).filter((l) => l.master === 'cri1')).toEqual([]);
          expect(readdirSync(join(ipam, 'dualnet')).filter((f) => /^[\d.]+$/.test(f) || f.includes(':'))).toEqual([]);
        } finally {
          rmSync(conf);
        }
        expectNothingLeft();
      });

      it('refuses unreasonable bandwidth annotations before creating anything', async () => {
        const err = await failure(crictl.runp(pod('bw', { annotations: { 'kubernetes.io/ingress-bandwidth': '10' } })));
        expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(err.message).toContain('kubernetes.io/ingress-bandwidth: resource is unreasonably small (< 1kbit)');
        expectNothingLeft();
      });

      it('rolls back a failed ADD: DEL runs, netns removed, name released', async () => {
        writeFileSync(join(rec, 'fail-ADD'), '');
        try {
          const err = await failure(crictl.runp(pod('broken')));
          expect(err.code).toBe(grpc.status.UNKNOWN);
          expect(err.message).toContain('recorder: ADD failure injected');
        } finally {
          rmSync(join(rec, 'fail-ADD'));
        }
        const add = calls()
          .filter((c) => c.command === 'ADD')
          .at(-1)!;
        expect(calls().some((c) => c.command === 'DEL' && c.env.CNI_CONTAINERID === add.env.CNI_CONTAINERID)).toBe(
          true,
        );
        expectNothingLeft();
        const id = await crictl.runp(pod('broken'));
        await crictl.rmp(id, true);
        expectNothingLeft();
      });

      it('rolls back when the client gives up (crictl deadline) while a plugin hangs', async () => {
        writeFileSync(join(rec, 'stall-ADD'), '');
        const before = harness.logs.length;
        try {
          const err = await failure(crictl.runp(pod('slow'), { timeoutMs: 500 }));
          expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
          await harness.waitForLog(
            (l) =>
              l.msg === 'RunPodSandbox' &&
              l.level === 'error' &&
              /cancelled by the client/.test(l.error) &&
              harness.logs.indexOf(l) >= before,
          );
        } finally {
          rmSync(join(rec, 'stall-ADD'));
        }
        expectNothingLeft();
      });

      it('a failed DEL fails stopp and rmp, keeps netns and cache; a retry finishes', async () => {
        const id = await crictl.runp(pod('sticky'));
        const { info } = await inspect(id);
        writeFileSync(join(rec, 'fail-DEL'), '');
        try {
          const err = await failure(crictl.stopp(id));
          expect(err.code).toBe(grpc.status.UNKNOWN);
          expect(err.message).toContain(`failed to destroy network for sandbox "${id}"`);
          expect((await inspect(id)).status.state).toBe('SANDBOX_NOTREADY');
          expect(existsSync(info.netns)).toBe(true);
          expect(cacheFiles()).toContain(`crinet-${id}-eth0`);
          expect((await failure(crictl.rmp(id))).message).toContain('failed to destroy network');
        } finally {
          rmSync(join(rec, 'fail-DEL'));
        }
        await crictl.stopp(id);
        expect(existsSync(info.netns)).toBe(false);
        await crictl.rmp(id);
        expectNothingLeft();
      });

      it('after kill -9 and a restart, a pod is still reported and can be stopped and removed', async () => {
        const id = await crictl.runp(pod('phoenix'));
        const { status, info } = await inspect(id);
        await harness.kill9();
        expect(addrsIn(info.netns, 'eth0')).toEqual([`${status.network.ip}/24`]);
        harness = await HarnessProcess.start(node, opts);
        const again = await inspect(id);
        expect(again.status).toMatchObject({ state: 'SANDBOX_READY', network: { ip: status.network.ip } });
        await crictl.stopp(id);
        await crictl.rmp(id);
        expectNothingLeft();
      });

      const noTuning = !existsSync(join(plugins.dir, 'tuning'));
      it.skipIf(noTuning)(
        `without any config uses the embedded default network (bridge, host-local, portmap, bandwidth, tuning)${noTuning ? ` — skipped: needs tuning in ${plugins.dir}` : ''}`,
        async () => {
          const state = join(node.tmp, 'embedded-state');
          const emb: HarnessOptions = {
            ...opts,
            socket: join(node.tmp, 'run', 'embedded.sock'),
            stateDir: state,
            confDir: join(node.tmp, 'empty.d'),
            defaultNetwork: 'embedded',
          };
          const h = await HarnessProcess.start(node, emb);
          const c = new Crictl(emb.socket, 10_000);
          try {
            expect((await c.info()).status.conditions).toContainEqual(
              expect.objectContaining({ type: 'NetworkReady', status: true }),
            );
            const id = await c.runp(pod('embedded'));
            const { status, info } = await c.inspectp(id);
            netnsSeen.add(info.netns);
            expect(status.network.ip).toMatch(/^10\.88\.\d+\.\d+$/);
            expect(addrsIn(info.netns, 'eth0')).toEqual([`${status.network.ip}/16`]);
            expect(linksIn(node.name).some((l) => l.ifname === 'tscni0')).toBe(true);
            expect(readdirSync(join(state, 'ipam', 'tscni-default'))).toContain(status.network.ip);
            expect(natRules()).toContain(id);
            await c.rmp(id, true);
            expect(existsSync(info.netns)).toBe(false);
            expect(readdirSync(join(state, 'ipam', 'tscni-default'))).not.toContain(status.network.ip);
            expect(natRules()).not.toContain(id);
            expect(pauseProcessesOf(state)).toEqual([]);
            expect(recordsIn(state)).toEqual([]);
          } finally {
            await h.stop();
            killPauses(state);
          }
        },
      );

      it('leaves nothing behind', () => {
        expectNothingLeft();
      });
    },
  );
}
