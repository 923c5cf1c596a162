// Fields and verbs Debian's reference (v1.1.1, CNI ≤ 1.0.0) does not have: run against ours only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addOutside,
  binDir,
  DIST_BIN,
  hostVeths,
  leases,
  missingForKernelTests,
  netfilterRulesets,
  nftMasqRules,
  pings,
  podLink,
  rulesOf,
  sh,
  TestNode,
  toolLog,
  uniqueName,
  vlanFilteringMissing,
  type PluginRun,
  type ToolLog,
} from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'nft', 'ping', 'bridge']);
const BIN = join(DIST_BIN, 'bridge');

/**
 * Run a plugin in the node namespace as if the node had no iptables: inside a private mount namespace
 * /usr/sbin (where /sbin points too) is replaced by a tmpfs holding only the other tools, bound back in.
 */
function withoutIptables(nodeName: string, scratch: string, bin: string, env: Record<string, string>, stdin: string) {
  const script = `
    const { spawnSync } = require('node:child_process');
    const fs = require('node:fs');
    const m = (...a) => { const r = spawnSync('mount', a); if (r.status) throw new Error('mount ' + a.join(' ') + ': ' + r.stderr); };
    const keep = fs.mkdtempSync(process.argv[4] + '/sbin-');
    m('--rbind', '/usr/sbin', keep);
    m('-t', 'tmpfs', 'tmpfs', '/usr/sbin');
    for (const t of ['ip', 'nft', 'sysctl', 'bridge', 'tc']) { fs.writeFileSync('/usr/sbin/' + t, ''); m('--bind', keep + '/' + t, '/usr/sbin/' + t); }
    const r = spawnSync('/usr/sbin/ip', ['netns', 'exec', process.argv[1], process.argv[2]], { input: process.argv[3], encoding: 'utf8' });
    process.stdout.write(r.stdout); process.stderr.write(r.stderr); process.exitCode = r.status;`;
  return spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', '--', process.execPath, '-e', script, nodeName, bin, stdin, scratch],
    { env, encoding: 'utf8' },
  );
}

describe.skipIf(!!missing)(`bridge (tscni only)${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  let cniPath: string;
  let dataDir: string;
  let seq = 0;
  beforeAll(() => {
    node = new TestNode('brx');
    cniPath = binDir(node.tmp, { 'host-local': 'auto' });
    dataDir = join(node.tmp, 'ipam');
    addOutside(node);
  });
  afterAll(() => node?.destroy());

  const net = (extra: Record<string, unknown> = {}, opts: { v6?: boolean } = {}) => {
    const n = ++seq;
    const ranges: unknown[] = [[{ subnet: `10.61.${n}.0/24` }]];
    if (opts.v6) ranges.push([{ subnet: `fd61:${n.toString(16)}::/64` }]);
    return {
      cniVersion: '1.1.0',
      name: `brx${n}`,
      type: 'bridge',
      bridge: uniqueName('b'),
      ipam: { type: 'host-local', dataDir, ranges },
      ...extra,
    } as Record<string, any>;
  };
  const run = (command: string, conf: unknown, netns: string, cid: string, extra: Record<string, string> = {}) =>
    node.runPlugin(
      BIN,
      { CNI_COMMAND: command, CNI_CONTAINERID: cid, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: cniPath, ...extra },
      conf,
    );
  const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);
  /** The backend an ADD recorded for the attachment (ipmasq-state.ts), or undefined without a record. */
  const recordFile = (network: string, id: string) => join(node.ipMasqStateDir, network, `${id}:eth0`);
  const recorded = (network: string, id: string): string | undefined => {
    const file = recordFile(network, id);
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).backend : undefined;
  };

  it('ipMasqBackend nftables: rules in inet cni_plugins_masquerade, traffic leaves masqueraded, DEL removes them', async () => {
    const conf = net({ isDefaultGateway: true, ipMasq: true, ipMasqBackend: 'nftables' }, { v6: true });
    const pod = node.addPod();
    const id = uniqueName('c');
    const add = await run('ADD', conf, pod, id);
    ok(add);
    const rules = nftMasqRules(node, id);
    expect(rules).toHaveLength(2);
    expect(rules[0]).toMatch(
      new RegExp(
        `ip saddr 10\\.61\\.${seq}\\.2 ip daddr != 10\\.61\\.${seq}\\.0/24 masquerade comment "[0-9a-f]{16}-[0-9a-f]{16}, net: ${conf.name}, if: eth0, id: ${id}"`,
      ),
    );
    expect(rules[1]).toContain('ip6 saddr');
    expect(rulesOf(node, id)).toEqual([]);
    const chain = node.exec('nft', ['list', 'chain', 'inet', 'cni_plugins_masquerade', 'postrouting']);
    expect(chain).toMatch(/ip daddr 224\.0\.0\.0\/4 return[\s\S]*ip6 daddr ff00::\/8 return[\s\S]*goto masq_checks/);
    expect(pings(pod, '198.51.100.2')).toBe(true);
    ok(await run('CHECK', { ...conf, prevResult: add.json }, pod, id));
    node.exec('nft', ['flush', 'chain', 'inet', 'cni_plugins_masquerade', 'masq_checks']);
    const check = await run('CHECK', { ...conf, prevResult: add.json }, pod, id);
    expect(check.code).toBe(1);
    expect(check.json.msg).toContain('masquerade rules');
    ok(await run('DEL', conf, pod, id));
    expect(nftMasqRules(node, id)).toEqual([]);
    expect(leases(dataDir, conf.name)).toEqual([]);
  });

  it('parallel ADDs and DELs with the nftables backend keep one base chain and one rule per pod', async () => {
    const conf = net({ ipMasq: true, ipMasqBackend: 'nftables' });
    const pods = Array.from({ length: 4 }, () => node.addPod());
    const ids = pods.map(() => uniqueName('c'));
    (await Promise.all(pods.map((p, i) => run('ADD', conf, p, ids[i])))).forEach(ok);
    for (const id of ids) expect(nftMasqRules(node, id)).toHaveLength(1);
    const base = node
      .exec('nft', ['list', 'chain', 'inet', 'cni_plugins_masquerade', 'postrouting'])
      .split('\n')
      .filter((l) => /return|goto/.test(l));
    expect(base).toHaveLength(3);
    (await Promise.all(pods.map((p, i) => run('DEL', conf, p, ids[i])))).forEach(ok);
    for (const id of ids) expect(nftMasqRules(node, id)).toEqual([]);
    expect(leases(dataDir, conf.name)).toEqual([]);
  });

  it('GC removes the masquerade rules (both backends) and leases of attachments not in cni.dev/valid-attachments', async () => {
    const ipt = net({ ipMasq: true });
    const nft = { ...ipt, ipMasqBackend: 'nftables', bridge: uniqueName('b') };
    const [keep, dropIpt, dropNft] = [uniqueName('c'), uniqueName('c'), uniqueName('c')];
    ok(await run('ADD', ipt, node.addPod(), keep));
    ok(await run('ADD', ipt, node.addPod(), dropIpt));
    ok(await run('ADD', nft, node.addPod(), dropNft));
    expect(recorded(ipt.name, dropNft)).toBe('nftables');
    const gc = await node.runPlugin(
      BIN,
      { CNI_COMMAND: 'GC', CNI_PATH: cniPath },
      { ...ipt, 'cni.dev/valid-attachments': [{ containerID: keep, ifname: 'eth0' }] },
    );
    ok(gc);
    expect(rulesOf(node, keep)).toHaveLength(3);
    expect(rulesOf(node, dropIpt)).toEqual([]);
    expect(nftMasqRules(node, dropNft)).toEqual([]);
    expect(leases(dataDir, ipt.name)).toEqual([`10.61.${seq}.2`]);
    // and the dropped nftables attachment's record
    expect(recorded(ipt.name, dropNft)).toBeUndefined();
  });

  describe('ipMasq records an nftables ADD; its DEL tears down only nftables', () => {
    let log: ToolLog;
    beforeAll(() => (log = toolLog(join(node.tmp, 'tools'))));
    /** Run with the netfilter tools logged; the tools it ran. */
    const logged = async (command: string, conf: unknown, pod: string, id: string): Promise<string[]> => {
      log.clear();
      const r = await run(command, conf, pod, id, { PATH: log.path });
      ok(r);
      return log.tools().sort();
    };
    /** One pod through each backend first: a table, a chain or a hook that the first rule creates stays after its last. */
    const warm = async (conf: Record<string, any>) => {
      for (const ipMasqBackend of ['iptables', 'nftables']) {
        const [pod, id] = [node.addPod(), uniqueName('c')];
        ok(await run('ADD', { ...conf, ipMasqBackend }, pod, id));
        ok(await run('DEL', { ...conf, ipMasqBackend }, pod, id));
      }
      return netfilterRulesets(node);
    };
    const withoutBackend = ({ ipMasqBackend: _, ...conf }: Record<string, any>) => conf;

    it('nftables: the DEL runs no iptables tool, also when the config says iptables now; rulesets as before, no record', async () => {
      const conf = net({ isGateway: true, ipMasq: true, ipMasqBackend: 'nftables' }, { v6: true });
      const before = await warm(conf);
      const [pod, id] = [node.addPod(), uniqueName('c')];
      log.clear();
      const add = await run('ADD', conf, pod, id, { PATH: log.path });
      ok(add);
      expect(log.tools()).toEqual(['nft', 'nft']);
      expect(recorded(conf.name, id)).toBe('nftables');
      expect(nftMasqRules(node, id)).toHaveLength(2);
      // The config changed between ADD and DEL (back to the default, iptables): the record wins.
      expect(await logged('DEL', { ...withoutBackend(conf), prevResult: add.json }, pod, id)).toEqual(['nft', 'nft']);
      expect(netfilterRulesets(node)).toEqual(before);
      expect(existsSync(recordFile(conf.name, id))).toBe(false);
      // A second DEL has no record (both backends, nothing there), and so has one after the netns is gone.
      ok(await run('DEL', { ...conf, prevResult: add.json }, pod, id));
      sh('ip', ['netns', 'delete', pod.split('/').pop()!]);
      ok(await run('DEL', conf, pod, id));
      expect(netfilterRulesets(node)).toEqual(before);
      expect(leases(dataDir, conf.name)).toEqual([]);
    });

    it('iptables (no record): the DEL with prevResult runs one restore per family, no nft, also when the config says nftables now', async () => {
      const conf = net({ isGateway: true, ipMasq: true }, { v6: true });
      const before = await warm(conf);
      const [pod, id] = [node.addPod(), uniqueName('c')];
      const add = await run('ADD', conf, pod, id);
      ok(add);
      expect(existsSync(recordFile(conf.name, id))).toBe(false);
      expect(rulesOf(node, id, 4)).toHaveLength(3);
      expect(rulesOf(node, id, 6)).toHaveLength(3);
      const del = await logged('DEL', { ...conf, ipMasqBackend: 'nftables', prevResult: add.json }, pod, id);
      expect(del).toEqual(['ip6tables-restore', 'iptables-restore']);
      expect(netfilterRulesets(node)).toEqual(before);
      // Without the prevResult: both backends are read, as before.
      ok(await run('ADD', conf, pod, id));
      ok(await run('DEL', { ...conf, ipMasqBackend: 'nftables' }, pod, id));
      expect(netfilterRulesets(node)).toEqual(before);
      expect(existsSync(recordFile(conf.name, id))).toBe(false);
    });

    it('without a record (an older version’s ADD, a crash before the write) the DEL still cleans both backends', async () => {
      const conf = net({ isGateway: true, ipMasq: true, ipMasqBackend: 'nftables' });
      const before = await warm(conf);
      const [pod, id] = [node.addPod(), uniqueName('c')];
      const add = await run('ADD', conf, pod, id);
      ok(add);
      rmSync(recordFile(conf.name, id));
      const del = await logged('DEL', { ...withoutBackend(conf), prevResult: add.json }, pod, id);
      expect(del).toEqual(['iptables-restore', 'iptables-save', 'nft', 'nft']);
      expect(netfilterRulesets(node)).toEqual(before);
      // A crash between the record and the rules: the record (and a killed writer's temp file) goes, DEL succeeds.
      mkdirSync(join(node.ipMasqStateDir, conf.name), { recursive: true });
      writeFileSync(recordFile(conf.name, id), '{"backend":"nftables"}\n');
      writeFileSync(`${recordFile(conf.name, id)}.tmp-999999999`, '{"back');
      ok(await run('DEL', conf, pod, id));
      expect(existsSync(recordFile(conf.name, id))).toBe(false);
      expect(existsSync(`${recordFile(conf.name, id)}.tmp-999999999`)).toBe(false);
      expect(existsSync(join(node.ipMasqStateDir, conf.name))).toBe(false); // the network's last record went
      expect(netfilterRulesets(node)).toEqual(before);
      expect(leases(dataDir, conf.name)).toEqual([]);
    });
  });

  it('a bridge name taken by another kind of link fails the ADD; the lease and the veth made beside the lookup are undone', async () => {
    const conf = net({ isGateway: true, ipMasq: true });
    node.exec('ip', ['link', 'add', conf.bridge, 'type', 'veth', 'peer', 'name', `${conf.bridge}p`]);
    const vethsBefore = hostVeths(node);
    const id = uniqueName('c');
    const pod = node.addPod();
    const add = await run('ADD', conf, pod, id);
    expect(add.code).toBe(1);
    expect(add.json.msg).toBe(`"${conf.bridge}" already exists but is not a bridge`);
    expect(leases(dataDir, conf.name)).toEqual([]);
    expect(hostVeths(node)).toEqual(vethsBefore);
    expect(podLink(pod)).toBeUndefined();
    expect(rulesOf(node, id)).toEqual([]);
    node.exec('ip', ['link', 'del', conf.bridge]);
  });

  it('a failing gateway step leaves nothing of the pod sysctls and masquerade that ran beside it', async () => {
    const conf = net({ isGateway: true, ipMasq: true }, { v6: true });
    node.exec('ip', ['link', 'add', conf.bridge, 'type', 'bridge']);
    node.exec('ip', ['addr', 'add', `10.61.${seq}.200/24`, 'dev', conf.bridge]);
    const pod = node.addPod();
    const vethsBefore = hostVeths(node);
    const id = uniqueName('c');
    const add = await run('ADD', conf, pod, id);
    expect(add.code).toBe(1);
    expect(add.json.msg).toContain(`"${conf.bridge}" already has an IP address different from 10.61.${seq}.1/24`);
    expect(leases(dataDir, conf.name)).toEqual([]);
    expect(hostVeths(node)).toEqual(vethsBefore);
    expect(podLink(pod)).toBeUndefined();
    expect(rulesOf(node, id, 4)).toEqual([]);
    expect(rulesOf(node, id, 6)).toEqual([]);
    // the same pod then ADDs cleanly once the address is gone, and its DEL (with prevResult) leaves nothing
    node.exec('ip', ['addr', 'del', `10.61.${seq}.200/24`, 'dev', conf.bridge]);
    const again = await run('ADD', conf, pod, id);
    ok(again);
    expect(rulesOf(node, id, 4).filter((l) => l.startsWith('-A POSTROUTING'))).toHaveLength(1);
    ok(await run('DEL', { ...conf, prevResult: again.json }, pod, id));
    expect(rulesOf(node, id, 4)).toEqual([]);
    expect(rulesOf(node, id, 6)).toEqual([]);
    expect(leases(dataDir, conf.name)).toEqual([]);
  });

  it('STATUS forwards to IPAM; CHECK forwards to IPAM too', async () => {
    ok(await node.runPlugin(BIN, { CNI_COMMAND: 'STATUS', CNI_PATH: cniPath }, net()));
    const conf = net();
    const pod = node.addPod();
    const id = uniqueName('c');
    const add = await run('ADD', conf, pod, id);
    ok(add);
    ok(await run('CHECK', { ...conf, prevResult: add.json }, pod, id));
    sh('rm', ['-f', join(dataDir, conf.name, `10.61.${seq}.2`)]);
    const check = await run('CHECK', { ...conf, prevResult: add.json }, pod, id);
    expect(check.code).toBe(1);
  });

  it('portIsolation: isolated ports reach the gateway but not each other', async () => {
    const conf = net({ isGateway: true, portIsolation: true });
    const [p1, p2] = [node.addPod(), node.addPod()];
    ok(await run('ADD', conf, p1, uniqueName('c')));
    const a2 = await run('ADD', conf, p2, uniqueName('c'));
    ok(a2);
    expect(
      JSON.parse(node.exec('ip', ['-j', '-d', 'link', 'show', 'dev', a2.json.interfaces[1].name]))[0].linkinfo
        .info_slave_data.isolated,
    ).toBe(true);
    expect(pings(p1, `10.61.${seq}.1`)).toBe(true);
    expect(pings(p1, `10.61.${seq}.3`, 1)).toBe(false);
  });

  it('disableContainerInterface leaves eth0 down and refuses IPAM', async () => {
    const pod = node.addPod();
    const add = await run('ADD', { ...net({ disableContainerInterface: true }), ipam: {} }, pod, uniqueName('c'));
    ok(add);
    expect(podLink(pod)!.flags).not.toContain('UP');
    const bad = await run('ADD', net({ disableContainerInterface: true }), node.addPod(), uniqueName('c'));
    expect(bad.json).toMatchObject({ code: 7 });
    expect(bad.json.msg).toContain('disableContainerInterface');
  });

  it('DAD: off by default (accept_dad=0, nodad addresses), on with enabledad', async () => {
    const dad = (pod: string) => sh('sysctl', ['-n', 'net.ipv6.conf.eth0.accept_dad'], { netns: pod }).trim();
    const p1 = node.addPod();
    ok(await run('ADD', net({}, { v6: true }), p1, uniqueName('c')));
    expect(dad(p1)).toBe('0');
    const p2 = node.addPod();
    ok(await run('ADD', net({ enabledad: true }, { v6: true }), p2, uniqueName('c')));
    expect(dad(p2)).toBe('1');
    expect(sh('sysctl', ['-n', 'net.ipv6.conf.eth0.enhanced_dad'], { netns: p2 }).trim()).toBe('1');
  });

  it('a new bridge forwards IPv6 to its first pod at once: its link-local address skips DAD', async () => {
    // A host beyond the node, routed to the pods through it: the node resolves the pod's address with a
    // neighbour solicitation sent from the bridge's link-local address, which must not be tentative.
    const far = node.addPod('far');
    const [a, b] = [uniqueName('f'), uniqueName('f')];
    node.exec('ip', ['-batch', '-'], {
      input: `link add ${a} type veth peer name ${b} netns ${far.split('/').pop()}\naddr add fd62::1/64 dev ${a} nodad\nlink set ${a} up\n`,
    });
    const conf = net({ isDefaultGateway: true }, { v6: true });
    const subnet6 = conf.ipam.ranges[1][0].subnet as string;
    sh('ip', ['-batch', '-'], {
      netns: far,
      input: `addr add fd62::2/64 dev ${b} nodad\nlink set ${b} up\nroute add ${subnet6} via fd62::1\n`,
    });
    const pod = node.addPod();
    const add = await run('ADD', conf, pod, uniqueName('c'));
    ok(add);
    const podIp6 = add.json.ips[1].address.split('/')[0] as string;
    // One echo with a 1 s deadline: a tentative link-local holds the first solicitation back for 1–2 s.
    expect(pings(far, podIp6, 1)).toBe(true);
    const linkLocal = JSON.parse(node.exec('ip', ['-j', '-6', 'addr', 'show', 'dev', conf.bridge]))[0].addr_info.filter(
      (x: { scope: string }) => x.scope === 'link',
    );
    expect(linkLocal).toHaveLength(1);
    expect(linkLocal[0].tentative).toBeUndefined();
    expect(node.exec('sysctl', ['-n', `net.ipv6.conf.${conf.bridge}.accept_dad`]).trim()).toBe('0');
  });

  describe('bad input is a CNI error naming the field, never a stack trace', () => {
    const cases: [string, Record<string, unknown>, Record<string, string>, number, RegExp][] = [
      ['vlan out of range', { vlan: 5000 }, {}, 7, /vlan/],
      ['vlan and vlanTrunk together', { vlan: 5, vlanTrunk: [{ id: 6 }] }, {}, 7, /vlanTrunk/],
      ['a trunk range upside down', { vlanTrunk: [{ minID: 20, maxID: 10 }] }, {}, 7, /minID is greater than maxID/],
      ['an unknown ipMasqBackend', { ipMasqBackend: 'pf' }, {}, 7, /ipMasqBackend/],
      ['a bridge name that is no interface name', { bridge: 'a/b' }, {}, 7, /bridge/],
      ['a bad runtimeConfig.mac', { runtimeConfig: { mac: 'zz' } }, {}, 7, /runtimeConfig\.mac/],
      ['a bad CNI_ARGS MAC', {}, { CNI_ARGS: 'IgnoreUnknown=1;MAC=nope' }, 4, /MAC/],
      ['a missing netns', {}, { CNI_NETNS: '/var/run/netns/does-not-exist-br' }, 4, /netns/],
    ];
    for (const [what, extra, envExtra, code, msg] of cases) {
      it(what, async () => {
        const vethsBefore = hostVeths(node);
        const r = await run('ADD', net(extra), node.addPod(), uniqueName('c'), envExtra);
        expect(r.code).toBe(1);
        expect(r.json.code, r.stdout).toBe(code);
        expect(r.json.msg).toMatch(msg);
        expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
        expect(hostVeths(node)).toEqual(vethsBefore);
      });
    }
  });

  it('vlan: access VLAN as pvid untagged on the port, default VLAN 1 removed', async (ctx) => {
    const why = vlanFilteringMissing(node);
    if (why) ctx.skip(why);
    const conf = net({ vlan: 42, isGateway: true });
    conf.bridge = conf.bridge.slice(0, 12);
    const pod = node.addPod();
    const add = await run('ADD', conf, pod, uniqueName('c'));
    ok(add);
    const vlans = JSON.parse(node.exec('bridge', ['-j', 'vlan', 'show', 'dev', add.json.interfaces[1].name]));
    expect(vlans[0].vlans).toEqual([
      expect.objectContaining({ vlan: 42, flags: expect.arrayContaining(['PVID', 'Egress Untagged']) }),
    ]);
    // the gateway lives on <bridge>.42, reachable from the pod in VLAN 42
    expect(add.json.interfaces[3].name).toBe(`${conf.bridge}.42`);
    expect(pings(pod, `10.61.${seq}.1`)).toBe(true);
  });

  it('vlanTrunk: trunk VLANs tagged on the port; VLAN 1 removed unless preserveDefaultVlan', async (ctx) => {
    const why = vlanFilteringMissing(node);
    if (why) ctx.skip(why);
    const portVlans = (add: PluginRun): number[] => {
      const shown = JSON.parse(node.exec('bridge', ['-j', 'vlan', 'show', 'dev', add.json.interfaces[1].name])) as {
        vlans: { vlan: number; vlanEnd?: number }[];
      }[];
      return shown[0].vlans.flatMap((v) =>
        Array.from({ length: (v.vlanEnd ?? v.vlan) - v.vlan + 1 }, (_, i) => v.vlan + i),
      );
    };
    for (const preserveDefaultVlan of [false, true]) {
      const conf = net({ vlanTrunk: [{ id: 101 }, { minID: 200, maxID: 202 }], preserveDefaultVlan, ipam: {} });
      conf.bridge = conf.bridge.slice(0, 12);
      const pod = node.addPod();
      const cid = uniqueName('c');
      const add = await run('ADD', conf, pod, cid);
      ok(add);
      expect(portVlans(add)).toEqual(preserveDefaultVlan ? [1, 101, 200, 201, 202] : [101, 200, 201, 202]);
      ok(await run('DEL', conf, pod, cid));
    }
  });

  it('on a node without iptables, ipMasq defaults to nftables, and DEL needs no iptables either', async () => {
    const cid = uniqueName('c');
    const conf = net({ isGateway: true, ipMasq: true });
    const pod = node.addPod();
    const env = {
      CNI_CONTAINERID: cid,
      CNI_NETNS: pod,
      CNI_IFNAME: 'eth0',
      CNI_PATH: cniPath,
      PATH: process.env.PATH ?? '',
      TSCNI_IPMASQ_STATE_DIR: node.ipMasqStateDir,
    };
    const add = withoutIptables(node.name, node.tmp, BIN, { ...env, CNI_COMMAND: 'ADD' }, JSON.stringify(conf));
    expect(add.status, add.stdout + add.stderr).toBe(0);
    expect(nftMasqRules(node, cid).length).toBeGreaterThan(0);
    expect(rulesOf(node, cid)).toEqual([]);
    const del = withoutIptables(node.name, node.tmp, BIN, { ...env, CNI_COMMAND: 'DEL' }, JSON.stringify(conf));
    expect(del.status, del.stdout + del.stderr).toBe(0);
    expect(nftMasqRules(node, cid)).toEqual([]);
  });
});
