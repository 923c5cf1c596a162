// The real daemon (`tscni-cni serve`, the Bun multi-call executable) driven over its socket by a client written from
// docs/resident.md: the calls it takes give what the exec'd executable gives (VERSION, results, errors byte for
// byte) and leave the kernel as the exec path does; the calls it must not take it declines with `F`; its socket is
// root's, exclusive, replaced when stale and removed on SIGTERM. Each daemon runs inside a TestNode's namespace,
// its home, so the bridges it makes are the node's.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUR_PLUGINS } from '@tscni/in-process-plugins';
import { TestNode, linksIn, missingForKernelTests, sh, uniqueName } from '@tscni/testing/node';
import { PLUGIND_EXE, PlugindProcess } from '@tscni/testing/plugind';
import { call, decodeAnswer, encodeRequest, type Answer, type WireRequest } from './wire';

const BIN = dirname(PLUGIND_EXE);
const SERVED = Object.keys(OUR_PLUGINS);
const missing =
  missingForKernelTests(['ip', 'nsenter', 'setpriv']) ?? (existsSync(PLUGIND_EXE) ? undefined : `needs ${PLUGIND_EXE}`);

type Run = Extract<Answer, { kind: 'run' }>;
interface Outcome {
  code: number;
  stdout: string;
}

/** `<st_dev>:<st_ino>` of a network namespace, as a shim inside it sends it. */
const nsIdentity = (path: string) => {
  const st = statSync(path);
  return `${st.dev}:${st.ino}`;
};

/** The plugin exec'd inside `netns` (the node) with exactly `env`, `stdin` given byte for byte. */
function execPlugin(netns: string, plugin: string, env: Record<string, string>, stdin: string | Uint8Array) {
  return new Promise<{ code: number; stdout: Buffer; stderr: Buffer }>((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${netns}`, '--', join(BIN, plugin)], { env, stdio: 'pipe' });
    const [out, err]: Buffer[][] = [[], []];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    child.stdin.end(stdin);
  });
}

const addrInfo = (netns: string, dev: string) =>
  (
    JSON.parse(sh('ip', ['-n', basename(netns), '-j', 'addr', 'show', 'dev', dev])) as {
      flags: string[];
      addr_info: { local: string; prefixlen: number }[];
    }[]
  ).map((l) => ({ up: l.flags.includes('UP'), addrs: l.addr_info.map((a) => `${a.local}/${a.prefixlen}`).sort() }))[0];

describe.skipIf(!!missing)(
  `tscni-plugind, the daemon over its socket${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let daemon: PlugindProcess;
    let socket: string;
    let home: string;
    const others: PlugindProcess[] = [];
    /** The daemon's TSCNI_* settings: the calls it takes must carry the same. */
    let settings: Record<string, string>;

    const envOf = (cni: Record<string, string>): Record<string, string> => ({
      PATH: process.env.PATH!,
      ...settings,
      CNI_PATH: BIN,
      ...cni,
    });
    const request = (
      plugin: string,
      env: Record<string, string>,
      stdin: string | Uint8Array,
      over: Partial<WireRequest> = {},
    ) => encodeRequest({ plugin, fallback: PLUGIND_EXE, netns: home, env, stdin, ...over });
    const viaDaemon = (
      plugin: string,
      env: Record<string, string>,
      stdin: string | Uint8Array,
      over: Partial<WireRequest> = {},
    ) => call(socket, request(plugin, env, stdin, over));
    async function ran(plugin: string, env: Record<string, string>, stdin: string | Uint8Array): Promise<Run> {
      const a = await viaDaemon(plugin, env, stdin);
      expect(a.kind, `${plugin} ${env.CNI_COMMAND}: ${shown(a)}`).toBe('run');
      return a as Run;
    }
    /** An answer as text, for an assertion's message. */
    const shown = (a: Answer) =>
      a.kind === 'run' ? `R ${a.code} ${a.stdout.toString()} ${a.stderr.toString()}` : JSON.stringify(a);
    async function declined(over: Partial<WireRequest> & { env?: Record<string, string> }, bytes?: Uint8Array) {
      const a = bytes
        ? await call(socket, bytes)
        : await viaDaemon(over.plugin ?? 'loopback', over.env ?? envOf({ CNI_COMMAND: 'VERSION' }), '', over);
      expect(a.kind, shown(a)).toBe('decline');
      return (a as { reason: string }).reason;
    }

    beforeAll(async () => {
      node = new TestNode('pd');
      home = nsIdentity(node.path);
      settings = { TSCNI_IPMASQ_STATE_DIR: node.ipMasqStateDir };
      socket = join(node.tmp, 'run', 'p.sock');
      daemon = await PlugindProcess.start({ socket, netns: node.path, env: settings, args: ['--verbose'] });
      expect(daemon.running, daemon.stderr).toBe(true);
    });

    afterAll(async () => {
      for (const d of [daemon, ...others]) await d?.stop('SIGKILL');
      node?.destroy();
    });

    it('serves the Kubernetes chain’s plugins on a socket only root may use (mode 0600)', () => {
      const st = statSync(socket);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      expect(statSync(dirname(socket)).mode & 0o777).toBe(0o700); // made by the daemon
      expect(daemon.logs[0]).toBe(`serving ${SERVED.join(', ')} for ${PLUGIND_EXE} on ${socket}`);
      expect(SERVED.sort()).toEqual([
        'bandwidth',
        'bridge',
        'host-local',
        'loopback',
        'portmap',
        'ptp',
        'static',
        'tuning',
      ]);
    });

    it('answers VERSION as each exec’d plugin prints it', async () => {
      for (const plugin of SERVED)
        for (const stdin of ['', '{"cniVersion":"0.4.0"}']) {
          const env = envOf({ CNI_COMMAND: 'VERSION' });
          const [exec, served] = [await execPlugin(node.path, plugin, env, stdin), await ran(plugin, env, stdin)];
          expect(exec.code, `${plugin} exec'd`).toBe(0);
          expect(served.code, plugin).toBe(0);
          expect(served.stdout.toString(), plugin).toBe(exec.stdout.toString());
          expect(served.stderr.toString()).toBe('');
        }
    });

    it('loopback ADD puts lo up with 127.0.0.1 in the pod, DEL takes it down, as the exec’d loopback does', async () => {
      const conf = '{"cniVersion":"1.0.0","name":"lo-net","type":"loopback"}';
      const [pd, px] = [node.addPod('l'), node.addPod('l')];
      const env = (cmd: string, netns: string) =>
        envOf({ CNI_COMMAND: cmd, CNI_CONTAINERID: `lo-${basename(netns)}`, CNI_NETNS: netns, CNI_IFNAME: 'lo' });
      expect(addrInfo(pd, 'lo')).toEqual({ up: false, addrs: [] });

      const served = await ran('loopback', env('ADD', pd), conf);
      const exec = await execPlugin(node.path, 'loopback', env('ADD', px), conf);
      expect(served.code, served.stdout.toString()).toBe(0);
      expect(served.stdout.toString().replaceAll(pd, '<netns>')).toBe(exec.stdout.toString().replaceAll(px, '<netns>'));
      expect(JSON.parse(served.stdout.toString()).ips).toContainEqual(
        expect.objectContaining({ address: '127.0.0.1/8' }),
      );
      expect(addrInfo(pd, 'lo').up).toBe(true);
      expect(addrInfo(pd, 'lo').addrs).toContain('127.0.0.1/8');
      expect(addrInfo(pd, 'lo')).toEqual(addrInfo(px, 'lo'));

      const del = await ran('loopback', env('DEL', pd), conf);
      expect(await execPlugin(node.path, 'loopback', env('DEL', px), conf)).toMatchObject({ code: 0 });
      expect({ code: del.code, stdout: del.stdout.toString() }).toEqual({ code: 0, stdout: '' });
      expect(addrInfo(pd, 'lo').up).toBe(false);
      expect(addrInfo(pd, 'lo')).toEqual(addrInfo(px, 'lo'));
      // --verbose: a line for each call it ran.
      const id = `lo-${basename(pd)}`;
      expect(daemon.logs.filter((l) => l.includes(` ${id}/`)).map((l) => l.replace(/ in [\d.]+ ms$/, ''))).toEqual([
        `ADD loopback ${id}/lo: exit 0`,
        `DEL loopback ${id}/lo: exit 0`,
      ]);
    });

    /** A bridge network of its own (bridge name, subnet, host-local dataDir) on the node. */
    function bridgeNet(subnet: string) {
      const bridge = uniqueName('b');
      const dataDir = join(node.tmp, `ipam-${bridge}`);
      const conf = {
        cniVersion: '1.0.0',
        name: `net-${bridge}`,
        type: 'bridge',
        bridge,
        isGateway: true,
        ipam: { type: 'host-local', subnet, dataDir },
      };
      const leases = () =>
        existsSync(join(dataDir, conf.name))
          ? readdirSync(join(dataDir, conf.name))
              .filter((f) => /^\d/.test(f))
              .sort()
          : [];
      const veths = () =>
        linksIn(node.name)
          .filter((l) => l.master === bridge)
          .map((l) => l.ifname);
      const env = (cmd: string, netns: string) =>
        envOf({ CNI_COMMAND: cmd, CNI_CONTAINERID: `c-${basename(netns)}`, CNI_NETNS: netns, CNI_IFNAME: 'eth0' });
      /** A result with what is the pod's own masked: its netns, its address, MACs, the host veth's name. */
      const mask = (out: string, netns: string, ip: string) =>
        out
          .replaceAll(netns, '<netns>')
          .replaceAll(ip, '<ip>')
          .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, '<mac>')
          .replace(/"veth[0-9a-f]+"/g, '"<veth>"');
      return { bridge, conf, text: JSON.stringify(conf), leases, veths, env, mask };
    }

    it('bridge + host-local ADD, CHECK and DEL: the pod gets its address, DEL leaves no veth, no lease, the bridge', async () => {
      const net = bridgeNet('10.211.0.0/24');
      const pod = node.addPod('b');
      const add = await ran('bridge', net.env('ADD', pod), net.text);
      expect(add.code, add.stdout.toString()).toBe(0);
      const result = JSON.parse(add.stdout.toString());
      expect(result.ips).toEqual([expect.objectContaining({ address: '10.211.0.2/24', gateway: '10.211.0.1' })]);
      expect(addrInfo(pod, 'eth0')).toEqual({ up: true, addrs: expect.arrayContaining(['10.211.0.2/24']) });
      expect(net.veths()).toHaveLength(1);
      expect(net.leases()).toEqual(['10.211.0.2']);
      expect(addrInfo(node.path, net.bridge).addrs).toContain('10.211.0.1/24');

      // The same call exec'd, on a second pod: the same result but for what is the pod's own.
      const pod2 = node.addPod('b');
      const exec = await execPlugin(node.path, 'bridge', net.env('ADD', pod2), net.text);
      expect(exec.code, exec.stdout.toString()).toBe(0);
      expect(net.mask(add.stdout.toString(), pod, '10.211.0.2')).toBe(
        net.mask(exec.stdout.toString(), pod2, '10.211.0.3'),
      );

      const check = await ran('bridge', net.env('CHECK', pod), JSON.stringify({ ...net.conf, prevResult: result }));
      expect({ code: check.code, stdout: check.stdout.toString() }).toEqual({ code: 0, stdout: '' });

      for (const [how, p] of [
        ['daemon', pod],
        ['exec', pod2],
      ] as const) {
        const del =
          how === 'daemon'
            ? await ran('bridge', net.env('DEL', p), net.text)
            : await execPlugin(node.path, 'bridge', net.env('DEL', p), net.text);
        expect({ how, code: del.code, stdout: del.stdout.toString() }).toEqual({ how, code: 0, stdout: '' });
      }
      expect(net.veths()).toEqual([]);
      expect(net.leases()).toEqual([]);
      expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
      // The bridge outlives its pods, as the reference's does.
      expect(linksIn(node.name).map((l) => l.ifname)).toContain(net.bridge);
      // DEL is idempotent.
      expect((await ran('bridge', net.env('DEL', pod), net.text)).code).toBe(0);
    });

    it('fails as the exec’d executable fails: the same stdout bytes, exit code 1', async () => {
      const pod = node.addPod('e');
      const lo = '{"cniVersion":"1.0.0","name":"lo-net","type":"loopback"}';
      const loEnv = (cni: Record<string, string> = {}) =>
        envOf({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'err-1', CNI_NETNS: pod, CNI_IFNAME: 'lo', ...cni });
      const net = bridgeNet('10.212.0.0/24');
      const cases: [string, string, Record<string, string>, string | Uint8Array][] = [
        ['not JSON', 'loopback', loEnv(), 'not json'],
        ['empty stdin', 'loopback', loEnv(), ''],
        ['a BOM before the config', 'loopback', loEnv(), `\uFEFF${lo}`],
        ['an unsupported cniVersion', 'loopback', loEnv(), lo.replace('1.0.0', '9.9.9')],
        [
          'a non-UTF-8 byte in cniVersion',
          'loopback',
          loEnv(),
          Buffer.concat([
            Buffer.from('{"cniVersion":"1.0.'),
            Buffer.of(0xff),
            Buffer.from('","name":"n","type":"loopback"}'),
          ]),
        ],
        ['a NUL in the config', 'loopback', loEnv(), `${lo}\0`],
        ['no such netns', 'loopback', loEnv({ CNI_NETNS: '/var/run/netns/no-such-netns' }), lo],
        ['an unknown CNI_COMMAND', 'loopback', loEnv({ CNI_COMMAND: 'BOGUS' }), lo],
        ['no CNI_IFNAME', 'bridge', net.env('ADD', pod), net.text].map((v, i) =>
          i === 2 ? Object.fromEntries(Object.entries(v as object).filter(([k]) => k !== 'CNI_IFNAME')) : v,
        ) as [string, string, Record<string, string>, string],
        [
          'an IPAM plugin not in CNI_PATH',
          'bridge',
          net.env('ADD', pod),
          net.text.replace('"host-local"', '"no-such-ipam"'),
        ],
        [
          'host-local without a range',
          'host-local',
          net.env('ADD', pod),
          '{"cniVersion":"1.0.0","name":"n","type":"host-local"}',
        ],
        [
          'tuning with an unknown sysctl',
          'tuning',
          net.env('ADD', pod),
          JSON.stringify({
            cniVersion: '1.0.0',
            name: 'n',
            type: 'tuning',
            sysctl: { 'net.ipv4.conf.lo.no_such_sysctl': '1' },
            prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: pod }], ips: [] },
          }),
        ],
      ];
      for (const [what, plugin, env, stdin] of cases) {
        const exec = await execPlugin(node.path, plugin, env, stdin);
        const served = await ran(plugin, env, stdin);
        const outcome = (o: { code: number; stdout: Buffer }): Outcome => ({
          code: o.code,
          stdout: o.stdout.toString('latin1'),
        });
        expect(outcome(exec).code, `${what}: exec'd ${exec.stdout}`).toBe(1);
        expect(outcome(served), what).toEqual(outcome(exec));
        expect(JSON.parse(served.stdout.toString()), what).toEqual(
          expect.objectContaining({ code: expect.any(Number), msg: expect.any(String) }),
        );
      }
      // The failed ADDs rolled back.
      expect(net.veths()).toEqual([]);
      expect(net.leases()).toEqual([]);
      expect(addrInfo(pod, 'lo')).toEqual({ up: false, addrs: [] });
    });

    it('declines (F) a plugin it does not run, a caller in another netns, other TSCNI_* settings, another executable, a bad request', async () => {
      // Plugins it does not run: declined every time, logged never.
      for (const plugin of ['macvlan', 'dhcp', 'firewall', 'no-such-plugin'])
        expect(await declined({ plugin })).toBe(`${plugin} is not run in-process`);
      // The caller's netns is not the daemon's (`0:0`, the test's own: the host's), or its mount namespace (where
      // CNI_NETNS and data dirs resolve): every verb but VERSION, which touches no namespace and no path and is
      // answered wherever it comes from, as the exec'd plugin prints it.
      const noPod = { CNI_CONTAINERID: 'x', CNI_NETNS: '/var/run/netns/no-such-pod', CNI_IFNAME: 'eth0' };
      const conf = '{"cniVersion":"1.0.0","name":"n","type":"loopback"}';
      const elsewhere: [Partial<WireRequest>, string][] = [
        [{ netns: '0:0' }, 'the caller is in another network namespace'],
        [{ netns: nsIdentity('/proc/self/ns/net') }, 'the caller is in another network namespace'],
        [{ mntns: '0:0' }, 'the caller is in another mount namespace'],
        [{ netns: '0:0', mntns: '0:0' }, 'the caller is in another network namespace'],
      ];
      for (const [where, reason] of elsewhere) {
        for (const CNI_COMMAND of ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS'])
          expect(
            await declined({ ...where, env: envOf({ CNI_COMMAND, ...noPod }) }),
            `${JSON.stringify(where)} ${CNI_COMMAND}`,
          ).toBe(reason);
        const env = envOf({ CNI_COMMAND: 'VERSION' });
        const answer = await viaDaemon('loopback', env, conf, where);
        const exec = await execPlugin(node.path, 'loopback', env, conf);
        expect(answer, JSON.stringify(where)).toEqual({
          kind: 'run',
          code: 0,
          stdout: exec.stdout,
          stderr: Buffer.alloc(0),
        });
      }
      // TSCNI_* settings: one more, one different, one missing — but TSCNI_PLUGIND* are the daemon's own and ignored.
      const differ = "the caller's TSCNI_* settings differ from the daemon's";
      const version = envOf({ CNI_COMMAND: 'VERSION' });
      expect(await declined({ env: { ...version, TSCNI_NFT_TABLE: 'other' } })).toBe(differ);
      expect(await declined({ env: { ...version, TSCNI_IPMASQ_STATE_DIR: '/elsewhere' } })).toBe(differ);
      const { TSCNI_IPMASQ_STATE_DIR: _, ...without } = version;
      expect(await declined({ env: without })).toBe(differ);
      for (const extra of [
        { TSCNI_PLUGIND: 'on' },
        { TSCNI_PLUGIND_SOCKET: '/elsewhere.sock', TSCNI_PLUGINDX: '1' },
      ] as Record<string, string>[])
        expect((await viaDaemon('loopback', { ...version, ...extra }, '')).kind, JSON.stringify(extra)).toBe('run');
      // The fallback executable: a link to the daemon's file is the same file; a copy (even with its times) is not.
      const link = join(node.tmp, 'hard-link-tscni-cni');
      linkSync(PLUGIND_EXE, link);
      for (const fallback of [link, join(BIN, 'loopback')])
        expect((await viaDaemon('loopback', version, '', { fallback })).kind, fallback).toBe('run');
      const copy = join(node.tmp, 'copy', 'tscni-cni');
      mkdirSync(dirname(copy));
      copyFileSync(PLUGIND_EXE, copy);
      // Its times to the nanosecond too (touch -r): size and mtime alike, only the inode tells them apart.
      sh('touch', ['-r', PLUGIND_EXE, copy]);
      expect(statSync(copy, { bigint: true }).mtimeNs).toBe(statSync(PLUGIND_EXE, { bigint: true }).mtimeNs);
      for (const fallback of [copy, '/no/such/tscni-cni', ''])
        expect(await declined({ fallback })).toBe(
          `${fallback} is not the executable this daemon runs (upgraded? restart tscni-plugind)`,
        );
      rmSync(dirname(copy), { recursive: true });
      // Requests that are not whole v1 requests.
      const whole = request('loopback', version, '');
      expect(await declined({}, Buffer.from('hello'))).toBe('not a tscni-plugind/1 request');
      expect(await declined({}, new Uint8Array())).toBe('not a tscni-plugind/1 request');
      expect(
        await declined(
          {},
          encodeRequest(
            { plugin: 'loopback', fallback: PLUGIND_EXE, netns: home, env: version, stdin: '' },
            'tscni-plugind/2',
          ),
        ),
      ).toBe('not a tscni-plugind/1 request');
      expect(await declined({}, whole.subarray(0, whole.indexOf(Buffer.from('CNI_COMMAND'))))).toBe(
        'truncated environment',
      );
      expect(await declined({}, Buffer.from('tscni-plugind/1\0loopback\0'))).toBe('truncated request');
      expect(await declined({}, request('loopback', version, Buffer.alloc((16 << 20) + 1, 0x20)))).toBe(
        `request over ${16 << 20} bytes`,
      );
      // Each reason logged once, however often it is given; none for a plugin it does not run.
      expect(daemon.logs.filter((l) => l === `declined: ${differ}`)).toHaveLength(1);
      expect(daemon.logs.some((l) => l.includes('macvlan'))).toBe(false);
      // And it still serves.
      expect((await viaDaemon('loopback', version, '')).kind).toBe('run');
    });

    it(
      '8 concurrent bridge ADDs on distinct pods all succeed with distinct addresses; 8 DELs leave nothing',
      { timeout: 180_000 },
      async () => {
        const net = bridgeNet('10.213.0.0/24');
        const pods = Array.from({ length: 8 }, () => node.addPod('c'));
        const adds = await Promise.all(pods.map((p) => ran('bridge', net.env('ADD', p), net.text)));
        expect(
          adds.map((a) => a.code),
          adds.map((a) => a.stdout.toString()).join('\n'),
        ).toEqual(pods.map(() => 0));
        const ips = adds.map((a) => JSON.parse(a.stdout.toString()).ips[0].address as string);
        expect(new Set(ips).size).toBe(8);
        pods.forEach((p, i) => expect(addrInfo(p, 'eth0').addrs, p).toContain(ips[i]));
        expect(net.veths()).toHaveLength(8);
        expect(net.leases()).toEqual(ips.map((ip) => ip.split('/')[0]).sort());

        const dels = await Promise.all(pods.map((p) => ran('bridge', net.env('DEL', p), net.text)));
        expect(dels.map((d) => [d.code, d.stdout.toString()])).toEqual(pods.map(() => [0, '']));
        expect(net.veths()).toEqual([]);
        expect(net.leases()).toEqual([]);
        for (const p of pods) expect(linksIn(p).map((l) => l.ifname)).toEqual(['lo']);
      },
    );

    it.skipIf(!existsSync('/usr/lib/cni/host-local'))(
      'a delegate that is not ours (the reference host-local in CNI_PATH) is exec’d with the call’s env, as the exec’d bridge execs it',
      async () => {
        const net = bridgeNet('10.214.0.0/24');
        const cniPath = join(node.tmp, `ref-ipam-${net.bridge}`);
        mkdirSync(cniPath);
        symlinkSync('/usr/lib/cni/host-local', join(cniPath, 'host-local'));
        const [pod, pod2] = [node.addPod('r'), node.addPod('r')];
        const env = (cmd: string, p: string) => ({ ...net.env(cmd, p), CNI_PATH: cniPath });
        const add = await ran('bridge', env('ADD', pod), net.text);
        const exec = await execPlugin(node.path, 'bridge', env('ADD', pod2), net.text);
        expect([add.code, exec.code], `${add.stdout}\n${exec.stdout}`).toEqual([0, 0]);
        expect(net.mask(add.stdout.toString(), pod, '10.214.0.2')).toBe(
          net.mask(exec.stdout.toString(), pod2, '10.214.0.3'),
        );
        expect(net.leases()).toEqual(['10.214.0.2', '10.214.0.3']);
        expect((await ran('bridge', env('DEL', pod), net.text)).code).toBe(0);
        expect((await execPlugin(node.path, 'bridge', env('DEL', pod2), net.text)).code).toBe(0);
        expect(net.leases()).toEqual([]);
        expect(net.veths()).toEqual([]);
      },
    );

    it('callers that go away mid-request or before the answer do not stop it; an ADD nobody read the answer of is done', async () => {
      const version = envOf({ CNI_COMMAND: 'VERSION' });
      // Half a request, then gone.
      await new Promise<void>((resolve) => {
        const c = createConnection(socket, () =>
          c.write(request('loopback', version, '').subarray(0, 20), () => (c.destroy(), resolve())),
        );
      });
      // A whole loopback ADD, the connection closed before the answer: the call still runs (a runtime's DEL undoes it).
      const pod = node.addPod('g');
      const env = (cmd: string) =>
        envOf({ CNI_COMMAND: cmd, CNI_CONTAINERID: 'gone-1', CNI_NETNS: pod, CNI_IFNAME: 'lo' });
      const conf = '{"cniVersion":"1.0.0","name":"lo-net","type":"loopback"}';
      await new Promise<void>((resolve) => {
        const c = createConnection(socket, () =>
          c.end(request('loopback', env('ADD'), conf), () => (c.destroy(), resolve())),
        );
      });
      for (let i = 0; i < 500 && !addrInfo(pod, 'lo').up; i++) await new Promise((r) => setTimeout(r, 20));
      expect(addrInfo(pod, 'lo').up).toBe(true);
      expect(daemon.running).toBe(true);
      expect((await viaDaemon('loopback', version, '')).kind).toBe('run');
      expect((await ran('loopback', env('DEL'), conf)).code).toBe(0);
      expect(addrInfo(pod, 'lo').up).toBe(false);
      expect(daemon.logs.filter((l) => l.includes('internal error'))).toEqual([]);
    });

    describe('its socket', () => {
      const start = async (sock: string) => {
        const d = await PlugindProcess.start({ socket: sock, netns: node.path, env: settings });
        others.push(d);
        return d;
      };
      const version = () => envOf({ CNI_COMMAND: 'VERSION' });

      it('a second daemon on the same socket exits 1 ("already listening"), and the first serves on', async () => {
        const second = await start(socket);
        expect(await second.exited).toEqual({ code: 1, signal: null });
        expect(second.stderr).toMatch(
          /tscni-plugind: Error getting listener: .*p\.sock: a daemon is already listening\n$/,
        );
        expect(statSync(socket).isSocket()).toBe(true);
        expect(daemon.running).toBe(true);
        expect((await viaDaemon('loopback', version(), '')).kind).toBe('run');
      });

      it('a stale socket file nobody listens on is replaced; SIGTERM removes the socket and the daemon exits', async () => {
        const sock = join(node.tmp, 'stale', 'p.sock');
        mkdirSync(dirname(sock));
        // A socket file left by a process that died (a SIGKILL leaves it).
        const r = spawnSync(process.execPath, [
          '-e',
          `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`,
        ]);
        expect(r.signal).toBe('SIGKILL');
        expect(statSync(sock).isSocket()).toBe(true);
        await expect(call(sock, Buffer.from('x'))).rejects.toThrow(/ECONNREFUSED/);

        const d = await start(sock);
        expect(d.running, d.stderr).toBe(true);
        expect(statSync(sock).mode & 0o777).toBe(0o600);
        expect((await call(sock, request('loopback', version(), ''))).kind).toBe('run');

        expect(await d.stop('SIGTERM')).toEqual({ code: 0, signal: null });
        expect(existsSync(sock)).toBe(false);
        // Now a shim's connect fails, and it falls back.
        await expect(call(sock, Buffer.from('x'))).rejects.toThrow(/ENOENT/);
      });

      it('SIGTERM lets a call in flight finish: its answer comes, new calls find no socket, then it exits', async () => {
        const sock = join(node.tmp, 'inflight', 'p.sock');
        const d = await start(sock);
        const net = bridgeNet('10.215.0.0/24');
        const pod = node.addPod('i');
        // The request sent but for its end: the daemon holds the connection and waits.
        const c = createConnection({ path: sock, allowHalfOpen: true });
        const chunks: Buffer[] = [];
        c.on('data', (b: Buffer) => chunks.push(b));
        const closed = new Promise<void>((resolve) => c.on('end', () => (c.end(), resolve())));
        await new Promise<void>((resolve) =>
          c.write(request('bridge', net.env('ADD', pod), net.text), () => resolve()),
        );
        // Accepted (its end of the connection is the daemon's: ss shows it with the daemon's pid), then SIGTERM.
        const accepted = () =>
          sh('ss', ['-x', '-p', '-n', '-H', 'state', 'connected'])
            .split('\n')
            .some((l) => l.includes(sock) && l.includes(`pid=${d.pid},`));
        for (let i = 0; i < 500 && !accepted(); i++) await new Promise((r) => setTimeout(r, 20));
        expect(accepted()).toBe(true);
        d.child.kill('SIGTERM');
        for (let i = 0; i < 500 && existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
        expect(existsSync(sock)).toBe(false);
        await expect(call(sock, Buffer.from('x'))).rejects.toThrow(/ENOENT/);
        expect(d.running).toBe(true);
        c.end();
        await closed;
        const answer = decodeAnswer(Buffer.concat(chunks));
        expect(answer.kind, JSON.stringify(answer)).toBe('run');
        expect((answer as Run).code, (answer as Run).stdout.toString()).toBe(0);
        expect(JSON.parse((answer as Run).stdout.toString()).ips[0].address).toBe('10.215.0.2/24');
        expect(await d.exited).toEqual({ code: 0, signal: null });
        expect(addrInfo(pod, 'eth0').addrs).toContain('10.215.0.2/24');
        // What it left is undone by a DEL, as after any plugin (here the exec'd one).
        expect((await execPlugin(node.path, 'bridge', net.env('DEL', pod), net.text)).code).toBe(0);
        expect(net.veths()).toEqual([]);
        expect(net.leases()).toEqual([]);
      });

      it('refuses a socket path that is not absolute, a missing --executable, an unknown flag', async () => {
        const rel = await PlugindProcess.start({ socket: 'rel.sock', netns: node.path, env: settings });
        others.push(rel);
        expect(await rel.exited).toEqual({ code: 1, signal: null });
        expect(rel.stderr).toMatch(/--socket "rel.sock": not an absolute path/);
        const sock = join(node.tmp, 'noexe', 'p.sock');
        const noexe = await PlugindProcess.start({
          socket: sock,
          netns: node.path,
          env: settings,
          args: ['--executable', '/no/such/exe'],
        });
        others.push(noexe);
        expect(await noexe.exited).toEqual({ code: 1, signal: null });
        expect(noexe.stderr).toMatch(/--executable \/no\/such\/exe: no such file/);
        expect(existsSync(sock)).toBe(false);
        const bogus = await PlugindProcess.start({
          socket: join(node.tmp, 'bogus', 'p.sock'),
          netns: node.path,
          env: settings,
          args: ['--verbose', '--bogus', 'x'],
        });
        others.push(bogus);
        expect(await bogus.exited).toEqual({ code: 1, signal: null });
        expect(bogus.logs).toEqual([
          'usage: tscni-cni serve [--socket PATH] [--executable PATH] [--verbose] (at "--bogus")',
        ]);
      });
    });
  },
);
