/**
 * The harness driven by the real crictl only (v1.26.1, a grpc-go client), the harness in its own mount namespace
 * inside a throwaway node netns: version, info, images, imagefsinfo, runp (the README's pod.json with a hostPort,
 * bandwidth annotations and sysctls), pods with filters, inspectp by prefix, stopp, rmp; sysctls that must fail
 * cleanly; pods whose netns pin died with the harness's mount namespace; kill -9 at random points of runp and a
 * restart. Every pod ends fully up or fully gone, all are stopped and removed, and the node is as it was.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, missingForKernelTests, pings, sh } from '@tscni/testing/node';
import { killPauses, pauseProcessesOf, recordsIn } from '@tscni/testing/harness-process';
import { expectNodeAsItWas, snapshot, type NodeSnapshot } from '@tscni/testing/node-state';
import { CRICTL, Crictl, Harness, crictlPresent, exec, type HarnessDirs } from '@tscni/testing/real-crictl';

const KILLS = Number(process.env.CRICTL_KILLS ?? 6);
const missing = missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft', 'tc', 'findmnt']);

/** The README quick start's pod.json, plus sysctls of both kinds. */
const podJson = (
  name: string,
  extra: { labels?: Record<string, string>; sysctls?: Record<string, string>; hostPort?: number } = {},
) =>
  JSON.stringify({
    metadata: { name, namespace: 'default', uid: `${name}-uid-1`, attempt: 0 },
    hostname: name,
    log_directory: '/tmp',
    dns_config: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
    port_mappings: extra.hostPort ? [{ protocol: 0, container_port: 80, host_port: extra.hostPort }] : [],
    labels: extra.labels ?? { app: name },
    annotations: { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '10M' },
    linux: { sysctls: extra.sysctls ?? {} },
  });

describe.skipIf(!!missing)(`the harness with the real crictl${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  let dirs: HarnessDirs;
  let harness: Harness;
  let crictl: Crictl;
  let before: NodeSnapshot;
  const seen = { ids: new Set<string>(), ips: new Set<string>(), netns: new Set<string>() };
  const files = (name: string) => join(node.tmp, name);

  const restart = async () => {
    harness = await Harness.start(node, dirs);
  };
  /** Remember what a pod had, for the final "nothing left" check. */
  const inspect = async (id: string) => {
    const out = await crictl.json(['inspectp', id]);
    seen.ids.add(out.status.id);
    if (out.status.network?.ip) seen.ips.add(out.status.network.ip);
    if (out.info?.netns) seen.netns.add(out.info.netns);
    return out;
  };
  /** eth0's IPv4 addresses inside the pod, seen through its pause process. */
  const podAddrs = (pausePid: number): string[] =>
    (
      JSON.parse(
        sh('nsenter', [`--target=${pausePid}`, '--net', '--', 'ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']),
      ) as { addr_info: { local: string }[] }[]
    ).flatMap((l) => l.addr_info.map((a) => a.local));
  const nodeLinks = () => sh('ip', ['-br', 'link'], { netns: node.name });

  beforeAll(async () => {
    node = new TestNode('crc');
    for (const d of ['run', 'state', 'net.d', 'cache']) mkdirSync(files(d), { recursive: true });
    dirs = {
      socket: join(files('run'), 'cri.sock'),
      stateDir: files('state'),
      confDir: files('net.d'),
      cacheDir: files('cache'),
    };
    before = snapshot(node, { stateDirs: [dirs.stateDir, dirs.cacheDir] });
    if (crictlPresent()) await restart();
    crictl = new Crictl(dirs.socket);
  });

  afterAll(async () => {
    await harness?.stop();
    if (dirs) killPauses(dirs.stateDir);
    node?.destroy();
  });

  it('finds the real crictl at <repo>/../shared/tools/crictl (CI always has it)', () => {
    expect(existsSync(CRICTL), `crictl is missing: ${CRICTL}`).toBe(true);
  });

  it('crictl version and info (both conditions true with the embedded network)', async () => {
    expect(await crictl.run(['version'])).toMatch(/RuntimeName:\s+tscni-cri[\s\S]*RuntimeApiVersion:\s+v1/);
    const info = JSON.parse(await crictl.run(['info']));
    expect(info.status.conditions.map((c: { type: string; status: boolean }) => [c.type, c.status])).toEqual([
      ['RuntimeReady', true],
      ['NetworkReady', true],
    ]);
    expect(info.cniconfig.source).toBe('embedded');
  });

  it('crictl images, inspecti and imagefsinfo tell the truth: one built-in pause image, the state dir filesystem', async () => {
    const images = await crictl.run(['images']);
    expect(images.split('\n').filter(Boolean)).toHaveLength(2);
    expect(images).toMatch(/localhost\/tscni-cri\/pause\s+0\.1\.0\s+[0-9a-f]{13}\s+\S+/);
    const inspected = JSON.parse(await crictl.run(['inspecti', 'localhost/tscni-cri/pause:0.1.0']));
    expect(inspected.status.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(inspected.info.binary).toMatch(/sleep$/);
    expect((await crictl.raw(['inspecti', 'busybox'])).stderr).toMatch(/no such image/);
    const pull = await crictl.raw(['pull', 'busybox']);
    expect(pull.code).not.toBe(0);
    expect(pull.stderr).toMatch(/Unimplemented desc = tscni-cri pulls no images/);
    const fs = JSON.parse(await crictl.run(['imagefsinfo'])).status;
    const mountpoint = sh('nsenter', [
      `--mount=${harness.mountNs()}`,
      '--',
      'findmnt',
      '-n',
      '-o',
      'TARGET',
      '-T',
      dirs.stateDir,
    ]).trim();
    expect(fs.fsId.mountpoint).toBe(mountpoint);
    expect(Number(fs.usedBytes.value)).toBeGreaterThan(0);
    expect(Number(fs.inodesUsed.value)).toBeGreaterThan(0);
    expect(Math.abs(Number(BigInt(fs.timestamp) / 1_000_000n) - Date.now())).toBeLessThan(60_000);
  });

  let web = '';
  let db = '';
  it('runp the README pod (hostPort, bandwidth, sysctls): READY with its network, limits, port mapping and sysctls', async () => {
    const sysctls = {
      'net.ipv4.ip_unprivileged_port_start': '80',
      'net/ipv4/conf/eth0/rp_filter': '2',
      'kernel.shmmax': '12345678',
      'kernel.msgmax': '4096',
      'fs.mqueue.msg_max': '20',
    };
    writeFileSync(
      files('web.json'),
      podJson('web', { hostPort: 8080, labels: { app: 'web', tier: 'front' }, sysctls }),
    );
    web = (await crictl.run(['runp', files('web.json')])).trim();
    expect(web).toMatch(/^[0-9a-f]{64}$/);
    const out = await inspect(web.slice(0, 13));
    expect(out.status).toMatchObject({ id: web, state: 'SANDBOX_READY', metadata: { name: 'web' } });
    const ip = out.status.network.ip as string;
    expect(ip).toMatch(/^10\.88\./);
    expect(podAddrs(out.info.pid)).toEqual([ip]);
    expect(pings(`/proc/${out.info.pid}/ns/net`, '10.88.0.1', 5), 'pod → its gateway').toBe(true);
    expect(pings(node.path, ip, 5), 'node → pod').toBe(true);
    // The pin lives in the harness's mount namespace, not in ours.
    expect(sh('nsenter', [`--mount=${harness.mountNs()}`, '--', 'stat', '-f', '-c', '%T', out.info.netns]).trim()).toBe(
      'nsfs',
    );
    const inPod = (ns: string, path: string) =>
      sh('nsenter', [`--target=${out.info.pid}`, `--${ns}`, '--', 'cat', `/proc/sys/${path}`]).trim();
    expect(inPod('net', 'net/ipv4/ip_unprivileged_port_start')).toBe('80');
    expect(inPod('net', 'net/ipv4/conf/eth0/rp_filter')).toBe('2');
    expect(inPod('ipc', 'kernel/shmmax')).toBe('12345678');
    expect(inPod('ipc', 'kernel/msgmax')).toBe('4096');
    expect(inPod('ipc', 'fs/mqueue/msg_max')).toBe('20');
    expect(sh('cat', ['/proc/sys/kernel/shmmax']).trim()).not.toBe('12345678');
    const nat = sh('iptables-save', ['-t', 'nat'], { netns: node.name });
    expect(nat).toMatch(new RegExp(`--dport 8080 .*--to-destination ${ip.replace(/\./g, '\\.')}:80`));
    const qdiscs = JSON.parse(sh('tc', ['-j', 'qdisc', 'show'], { netns: node.name })) as {
      kind: string;
      dev: string;
    }[];
    expect(qdiscs.filter((q) => q.kind === 'tbf').length).toBe(2);

    writeFileSync(files('db.json'), podJson('db', { labels: { app: 'db', tier: 'back' } }));
    db = (await crictl.run(['runp', files('db.json')])).trim();
    await inspect(db);
  });

  it('crictl pods with filters: label selector, state, id prefix; inspectp by prefix', async () => {
    expect((await crictl.podIds()).sort()).toEqual([web, db].sort());
    expect(await crictl.podIds(['--label', 'app=web'])).toEqual([web]);
    expect(await crictl.podIds(['--label', 'tier=back', '--label', 'app=db'])).toEqual([db]);
    expect(await crictl.podIds(['--label', 'app=none'])).toEqual([]);
    expect(await crictl.podIds(['--id', db.slice(0, 13)])).toEqual([db]);
    expect(await crictl.podIds(['--state', 'notready'])).toEqual([]);
    expect((await crictl.podIds(['--state', 'ready'])).sort()).toEqual([web, db].sort());
    expect((await crictl.json(['inspectp', db.slice(0, 13)])).status.id).toBe(db);
    expect((await crictl.raw(['inspectp', 'ffffffffffff'])).code).not.toBe(0);
  });

  it('an unsafe, unknown or host-namespace sysctl fails runp cleanly: nothing is made, nothing is left', async () => {
    const linksBefore = nodeLinks();
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'kernel.panic': '1' }, /"kernel\.panic" is not in a separate kernel namespace/],
      [{ 'vm.swappiness': '1' }, /not in a separate kernel namespace/],
      [{ 'net.ipv4.no_such_sysctl': '1' }, /failed to set sysctl "net\.ipv4\.no_such_sysctl"/],
      [{ 'kernel.shmmax': 'not-a-number' }, /failed to set sysctl "kernel\.shmmax"/],
      [{ 'net/../../kernel/panic': '1' }, /not a valid sysctl name/],
    ];
    for (const [i, [sysctls, why]] of cases.entries()) {
      writeFileSync(files(`bad${i}.json`), podJson(`bad${i}`, { sysctls }));
      const r = await crictl.raw(['runp', files(`bad${i}.json`)]);
      expect(r.code, JSON.stringify(sysctls)).not.toBe(0);
      expect(r.stderr).toMatch(why);
    }
    expect((await crictl.podIds()).sort()).toEqual([web, db].sort());
    expect(recordsIn(dirs.stateDir)).toHaveLength(2);
    expect(pauseProcessesOf(dirs.stateDir)).toHaveLength(2);
    expect(nodeLinks()).toBe(linksBefore);
    // A rolled-back name can be used again.
    writeFileSync(files('bad0.json'), podJson('bad0'));
    const again = (await crictl.run(['runp', files('bad0.json')])).trim();
    await inspect(again);
    await crictl.run(['stopp', again]);
    await crictl.run(['rmp', again]);
  });

  it('pods whose netns pin died with the harness mount namespace can be stopped and removed (DEL with an empty CNI_NETNS)', async () => {
    const leases = () =>
      sh('find', [join(dirs.stateDir, 'ipam'), '-type', 'f', '-name', '10.*'])
        .trim()
        .split('\n')
        .filter(Boolean);
    expect(leases()).toHaveLength(2);
    const pids = pauseProcessesOf(dirs.stateDir);
    await harness.kill9();
    // The pause processes were the last members of that mount namespace: with them the pins (and the pods' netns) go.
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await restart();
    for (const id of [web, db]) expect((await crictl.json(['inspectp', id])).status.state).toBe('SANDBOX_NOTREADY');
    await crictl.run(['stopp', web.slice(0, 13)]);
    await crictl.run(['stopp', db]);
    await crictl.run(['stopp', db]); // idempotent
    expect(harness.stderr).toMatch(/"msg":"NetnsLost".*"using":"\(empty CNI_NETNS\)"/);
    expect(leases()).toEqual([]);
    expect(sh('iptables-save', ['-t', 'nat'], { netns: node.name })).not.toMatch(/--dport 8080/);
    await crictl.run(['rmp', web]);
    await crictl.run(['rmp', db]);
    expect(await crictl.podIds()).toEqual([]);
  });

  it(
    `kill -9 of the harness at random points of runp (${KILLS} times), restart: every pod fully up or fully gone`,
    { timeout: 600_000 },
    async () => {
      const t0 = Date.now();
      writeFileSync(files('warm.json'), podJson('warm', { hostPort: 8081 }));
      const warm = (await crictl.run(['runp', files('warm.json')])).trim();
      const runMs = Date.now() - t0;
      await inspect(warm);
      // A second pod of the same harness run: its pause keeps that run's mount namespace (and warm's pin) alive.
      writeFileSync(files('warm2.json'), podJson('warm2'));
      await inspect((await crictl.run(['runp', files('warm2.json')])).trim());
      const outcome = { up: 0, gone: 0 };
      for (let i = 0; i < KILLS; i++) {
        writeFileSync(
          files(`k${i}.json`),
          podJson(`k${i}`, {
            hostPort: 9000 + i,
            labels: { app: `k${i}`, kill: 'yes' },
            sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shmmni': '1000' },
          }),
        );
        const runp = exec(CRICTL, ['-r', `unix://${dirs.socket}`, '-t', '20s', 'runp', files(`k${i}.json`)]);
        // Stratified random points over the whole of runp (and a little past it), so early and late kills both occur.
        await new Promise((r) => setTimeout(r, ((i + Math.random()) / KILLS) * runMs * 1.6));
        await harness.kill9();
        const r = await runp;
        await restart();
        const listed = await crictl.podIds(['--label', `app=k${i}`]);
        if (r.code === 0) expect(listed, 'a pod whose runp succeeded survives the restart').toEqual([r.stdout.trim()]);
        if (listed.length === 0) {
          outcome.gone++;
          continue;
        }
        outcome.up++;
        const out = await inspect(listed[0]);
        expect(out.status.state, 'listed means fully up').toBe('SANDBOX_READY');
        expect(podAddrs(out.info.pid)).toEqual([out.status.network.ip]);
        expect(pings(node.path, out.status.network.ip, 5), 'node → pod').toBe(true);
        expect(
          sh('nsenter', [`--target=${out.info.pid}`, '--ipc', '--', 'cat', '/proc/sys/kernel/shmmni']).trim(),
        ).toBe('1000');
      }
      console.log(
        `crictl kill -9 during runp: ${KILLS} kills, ${outcome.up} pods up, ${outcome.gone} rolled back (runp ≈ ${runMs} ms)`,
      );
      // Pods made before the restarts: their pins live in dead harnesses' mount namespaces, held by their pauses.
      for (const id of (await crictl.podIds()).reverse()) {
        await crictl.run(['stopp', id]);
        await crictl.run(['rmp', id]);
      }
      expect(await crictl.podIds()).toEqual([]);
      // The warm pods outlived every restart: the first one stopped reached its netns through the other's pause.
      expect(harness.stderr).toMatch(/"msg":"NetnsLost".*"using":"\/proc\/\d+\/root\/run\/netns\/cni-/);
    },
  );

  it('NetworkReady stays true when an IPAM pool is full (an informative NetworkCapacity condition says so)', async () => {
    const conf = join(dirs.confDir, '10-small.conflist');
    const ipam = { type: 'host-local', ranges: [[{ subnet: '10.77.0.0/30' }]], dataDir: join(dirs.stateDir, 'ipam') };
    writeFileSync(
      conf,
      JSON.stringify({
        cniVersion: '1.1.0',
        name: 'small',
        plugins: [{ type: 'bridge', bridge: 'crcap0', isGateway: true, ipam }],
      }),
    );
    const conditions = async () =>
      JSON.parse(await crictl.run(['info'])).status.conditions as {
        type: string;
        status: boolean;
        reason: string;
        message: string;
      }[];
    try {
      expect((await conditions()).map((c) => [c.type, c.status])).toEqual([
        ['RuntimeReady', true],
        ['NetworkReady', true],
      ]);
      writeFileSync(files('full1.json'), podJson('full1'));
      const first = (await crictl.run(['runp', files('full1.json')])).trim();
      expect((await inspect(first)).status.network.ip).toBe('10.77.0.2');
      const full = await conditions();
      expect(full.map((c) => [c.type, c.status])).toEqual([
        ['RuntimeReady', true],
        ['NetworkReady', true],
        ['NetworkCapacity', false],
      ]);
      expect(full[2]).toMatchObject({
        reason: 'IPAMRangeFull',
        message: expect.stringMatching(
          /no IP addresses available in range set 0: 10\.77\.0\.1-10\.77\.0\.2|no IP addresses available/,
        ),
      });
      writeFileSync(files('full2.json'), podJson('full2'));
      const second = await crictl.raw(['runp', files('full2.json')]);
      expect(second.code).not.toBe(0);
      expect(second.stderr).toMatch(/no IP addresses available/);
      await crictl.run(['stopp', first]);
      await crictl.run(['rmp', first]);
      expect((await conditions()).map((c) => c.type)).toEqual(['RuntimeReady', 'NetworkReady']);
    } finally {
      rmSync(conf, { force: true });
    }
    // A network whose plugin is missing is not ready.
    writeFileSync(conf, JSON.stringify({ cniVersion: '1.1.0', name: 'broken', plugins: [{ type: 'no-such-plugin' }] }));
    try {
      expect((await conditions())[1]).toMatchObject({
        type: 'NetworkReady',
        status: false,
        reason: 'NetworkPluginNotReady',
        message: expect.stringContaining('no-such-plugin'),
      });
    } finally {
      rmSync(conf, { force: true });
    }
  });

  it('nothing is left on the node: links, qdiscs, rules, leases, cache files, netns pins, pause processes', async () => {
    expect(recordsIn(dirs.stateDir)).toEqual([]);
    expect(pauseProcessesOf(dirs.stateDir)).toEqual([]);
    // Namespaces die asynchronously once their last holder is gone: give the kernel a moment.
    let after = snapshot(node, { stateDirs: [dirs.stateDir, dirs.cacheDir] });
    for (let i = 0; i < 100 && after.links.join() !== before.links.join(); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = snapshot(node, { stateDirs: [dirs.stateDir, dirs.cacheDir] });
    }
    expectNodeAsItWas(before, after, { ids: [...seen.ids], ips: [...seen.ips], netns: [...seen.netns] });
    expect(after.iptables.join('\n')).not.toMatch(/--dport (8080|8081|90\d\d)/);
  });
});
