/**
 * Chain execution against fake plugins (spies written into node.tmp, run inside a test node netns):
 * request derivation, ordering, the cache, error paths, GC and STATUS.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestNode, missingForKernelTests } from '@tscni/testing/node';
import {
  CNIConfig,
  confFromBytes,
  confListFromBytes,
  execInNetns,
  type NetworkConfigList,
  type RuntimeConf,
} from '../src';
import { spyCalls, writeSpy, type SpyBehaviour } from '@tscni/testing/fake-plugin';

const missing = missingForKernelTests(['ip', 'nsenter', 'node']);

describe.skipIf(!!missing)(`chain execution with fake plugins${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  let bin: string;
  let cacheDir: string;
  let log: string;
  let n = 0;

  beforeAll(() => {
    node = new TestNode('lc');
    process.env.SPY_PARENT = 'inherited';
  });
  afterAll(() => node?.destroy());
  beforeEach(() => {
    const dir = join(node.tmp, `case${n++}`);
    bin = join(dir, 'bin');
    cacheDir = join(dir, 'cache');
    log = join(dir, 'calls.jsonl');
    mkdirSync(bin, { recursive: true });
  });

  const spy = (type: string, b: Partial<SpyBehaviour> = {}) => writeSpy(bin, type, { log, ...b });
  const cni = (extra: Partial<ConstructorParameters<typeof CNIConfig>[0]> = {}) =>
    new CNIConfig({
      binDirs: [bin, '/nonexistent'],
      cacheDir,
      exec: execInNetns(node.path),
      onStderr: () => {},
      ...extra,
    });
  const makeList = (
    version: string,
    plugins: Record<string, unknown>[],
    extra: Record<string, unknown> = {},
  ): NetworkConfigList => confListFromBytes(JSON.stringify({ cniVersion: version, name: 'spynet', plugins, ...extra }));
  const rt = (containerID = 'ctr1', ifName = 'eth0', extra: Partial<RuntimeConf> = {}): RuntimeConf => ({
    containerID,
    netNS: node.addPod(),
    ifName,
    ...extra,
  });

  it('ADD injects name, cniVersion, declared capabilities and prevResult; env is CNI_* over the parent env', async () => {
    spy('first', { ip: '10.1.0.7/24' });
    spy('second');
    const list = makeList('1.1.0', [
      { type: 'first', capabilities: { portMappings: true, bandwidth: false }, keep: 'me' },
      { type: 'second', runtimeConfig: { preset: 1 } },
    ]);
    const r = rt('ctr1', 'eth0', {
      args: [
        ['IgnoreUnknown', '1'],
        ['K8S_POD_NAME', 'web'],
      ],
      capabilityArgs: {
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
        bandwidth: { ingressRate: 1 },
        ips: ['1.2.3.4'],
      },
    });
    const result = await cni().addNetworkList(list, r);

    const calls = spyCalls(log);
    expect(calls.map((c) => `${c.type}:${c.cmd}`)).toEqual(['first:ADD', 'second:ADD']);
    const [first, second] = calls;
    expect(first.conf).toEqual({
      type: 'first',
      capabilities: { portMappings: true, bandwidth: false },
      keep: 'me',
      name: 'spynet',
      cniVersion: '1.1.0',
      runtimeConfig: { portMappings: r.capabilityArgs!.portMappings },
    });
    expect(second.conf.prevResult).toEqual({
      cniVersion: '1.1.0',
      interfaces: [{ name: 'eth0', sandbox: r.netNS }],
      ips: [{ address: '10.1.0.7/24', gateway: '10.99.0.1', interface: 0 }],
      dns: {},
    });
    expect(second.conf.runtimeConfig).toEqual({ preset: 1 });
    expect(first.env).toEqual({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'ctr1',
      CNI_NETNS: r.netNS,
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web',
      CNI_PATH: `${bin}:/nonexistent`,
      SPY_PARENT: 'inherited',
    });
    expect(result).toEqual(second.conf.prevResult);
  });

  it('writes the cache in libcni cniCacheV1 format, field by field, atomically with 0700/0600', async () => {
    spy('only');
    const list = makeList('1.0.0', [{ type: 'only' }]);
    const r = rt('ctr-cache', 'net1', {
      args: [['K8S_POD_NAMESPACE', 'default']],
      capabilityArgs: { mac: 'c2:11:22:33:44:55' },
    });
    const result = await cni().addNetworkList(list, r);
    const file = join(cacheDir, 'results', 'spynet-ctr-cache-net1');
    const text = readFileSync(file, 'utf8');
    const cached = JSON.parse(text);
    expect(Object.keys(cached)).toEqual([
      'kind',
      'containerId',
      'config',
      'ifName',
      'networkName',
      'netns',
      'cniArgs',
      'capabilityArgs',
      'result',
    ]);
    expect(cached.kind).toBe('cniCacheV1');
    expect(cached.containerId).toBe('ctr-cache');
    expect(Buffer.from(cached.config, 'base64').equals(list.bytes)).toBe(true);
    expect(cached.ifName).toBe('net1');
    expect(cached.networkName).toBe('spynet');
    expect(cached.netns).toBe(r.netNS);
    expect(cached.cniArgs).toEqual([['K8S_POD_NAMESPACE', 'default']]);
    expect(cached.capabilityArgs).toEqual({ mac: 'c2:11:22:33:44:55' });
    expect(cached.result).toEqual(result);
    expect(statSync(join(cacheDir, 'results')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(cacheDir).filter((f) => f !== 'results')).toEqual([]);
    expect(readdirSync(join(cacheDir, 'results'))).toEqual(['spynet-ctr-cache-net1']);

    // Optional fields are omitted when empty, like Go's omitempty.
    const r2 = rt('ctr-bare', 'eth0');
    await cni()
      .addNetworkList(list, { ...r2, netNS: '' })
      .catch(() => undefined);
    await cni().addNetworkList(list, r2);
    expect(Object.keys(JSON.parse(readFileSync(join(cacheDir, 'results', 'spynet-ctr-bare-eth0'), 'utf8')))).toEqual([
      'kind',
      'containerId',
      'config',
      'ifName',
      'networkName',
      'netns',
      'result',
    ]);
  });

  it('DEL runs in reverse with the cached result, from a fresh CNIConfig, and removes the entry; a second DEL still succeeds', async () => {
    spy('a');
    spy('b');
    const list = makeList('1.0.0', [{ type: 'a' }, { type: 'b' }]);
    const r = rt('ctr-del');
    const result = await cni().addNetworkList(list, r);
    await cni().delNetworkList(list, r);
    const dels = spyCalls(log).filter((c) => c.cmd === 'DEL');
    expect(dels.map((c) => c.type)).toEqual(['b', 'a']);
    for (const d of dels) expect(d.conf.prevResult).toEqual(result);
    expect(readdirSync(join(cacheDir, 'results'))).toEqual([]);
    await cni().delNetworkList(list, r);
    const again = spyCalls(log)
      .filter((c) => c.cmd === 'DEL')
      .slice(2);
    expect(again.map((c) => c.type)).toEqual(['b', 'a']);
    for (const d of again) expect(d.conf).not.toHaveProperty('prevResult');
  });

  it('DEL before 0.4.0 sends no prevResult', async () => {
    spy('a');
    const list = makeList('0.3.1', [{ type: 'a' }]);
    const r = rt('ctr-old');
    await cni().addNetworkList(list, r);
    await cni().delNetworkList(list, r);
    expect(spyCalls(log).find((c) => c.cmd === 'DEL')!.conf).not.toHaveProperty('prevResult');
  });

  for (const [what, content] of [
    ['garbage', '{"kind":"cniCacheV1", truncated'],
    ['an empty file', ''],
    ['a non-object', '[1,2]'],
  ] as const) {
    it(`a corrupt cache entry (${what}) never blocks DEL`, async () => {
      spy('a');
      const list = makeList('1.0.0', [{ type: 'a' }]);
      const r = rt('ctr-corrupt');
      await cni().addNetworkList(list, r);
      const file = join(cacheDir, 'results', 'spynet-ctr-corrupt-eth0');
      writeFileSync(file, content);
      await expect(cni().getNetworkListCachedResult(list, r)).rejects.toThrow();
      await cni().delNetworkList(list, r);
      const del = spyCalls(log).find((c) => c.cmd === 'DEL')!;
      expect(del.conf).not.toHaveProperty('prevResult');
      expect(() => statSync(file)).toThrow();
    });
  }

  it('reads the legacy cache format (a bare result) and converts to the list version', async () => {
    spy('a');
    const list = makeList('0.4.0', [{ type: 'a' }]);
    const r = rt('ctr-legacy');
    mkdirSync(join(cacheDir, 'results'), { recursive: true });
    writeFileSync(
      join(cacheDir, 'results', 'spynet-ctr-legacy-eth0'),
      JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: '10.5.0.2/16' }] }),
    );
    expect(await cni().getNetworkListCachedResult(list, r)).toEqual({
      cniVersion: '0.4.0',
      ips: [{ address: '10.5.0.2/16', version: '4' }],
    });
    await cni().delNetworkList(list, r);
    expect(spyCalls(log)[0].conf.prevResult).toEqual({
      cniVersion: '0.4.0',
      ips: [{ address: '10.5.0.2/16', version: '4' }],
    });
  });

  it('reads an entry written by upstream libcni (Go field order, base64 config)', async () => {
    spy('a');
    const list = makeList('1.0.0', [{ type: 'a' }]);
    const r = rt('ctr-go');
    const goEntry = `{"kind":"cniCacheV1","containerId":"ctr-go","config":"${list.bytes.toString('base64')}","ifName":"eth0","networkName":"spynet","netns":"${r.netNS}","cniArgs":[["IgnoreUnknown","1"]],"capabilityArgs":{"portMappings":[{"hostPort":80,"containerPort":8080,"protocol":"tcp"}]},"result":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff","sandbox":"${r.netNS}"}],"ips":[{"interface":0,"address":"10.4.0.9/24","gateway":"10.4.0.1"}],"dns":{}}}`;
    mkdirSync(join(cacheDir, 'results'), { recursive: true, mode: 0o700 });
    writeFileSync(join(cacheDir, 'results', 'spynet-ctr-go-eth0'), goEntry, { mode: 0o600 });
    const [att] = await cni().getCachedAttachments('ctr-go');
    expect(att).toMatchObject({
      containerID: 'ctr-go',
      network: 'spynet',
      ifName: 'eth0',
      netNS: r.netNS,
      cniArgs: [['IgnoreUnknown', '1']],
    });
    expect(att.config.equals(list.bytes)).toBe(true);
    expect((await cni().getNetworkListCachedConfig(list, r))?.rt.capabilityArgs).toEqual({
      portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }],
    });
    await cni().delNetworkList(list, r);
    expect(spyCalls(log)[0].conf.prevResult.ips).toEqual([
      { interface: 0, address: '10.4.0.9/24', gateway: '10.4.0.1' },
    ]);
  });

  it('CHECK runs forward with the cached result; disableCheck skips it; <0.4.0 is refused', async () => {
    spy('a');
    spy('b');
    const r = rt('ctr-check');
    const list = makeList('1.0.0', [{ type: 'a' }, { type: 'b' }]);
    const result = await cni().addNetworkList(list, r);
    await cni().checkNetworkList(list, r);
    const checks = spyCalls(log).filter((c) => c.cmd === 'CHECK');
    expect(checks.map((c) => c.type)).toEqual(['a', 'b']);
    for (const c of checks) expect(c.conf.prevResult).toEqual(result);
    await cni().checkNetworkList(makeList('1.0.0', [{ type: 'a' }], { disableCheck: true }), r);
    expect(spyCalls(log).filter((c) => c.cmd === 'CHECK')).toHaveLength(2);
    await expect(cni().checkNetworkList(makeList('0.3.1', [{ type: 'a' }]), r)).rejects.toThrow(
      'configuration version "0.3.1" does not support the CHECK command',
    );
  });

  it('ADD stops at the first failing plugin, names it, keeps its code, and caches nothing', async () => {
    spy('a');
    spy('b', { fail: { ADD: { code: 11, msg: 'try later', details: 'lock busy' } } });
    spy('c');
    const list = makeList('1.0.0', [{ type: 'a' }, { type: 'b' }, { type: 'c' }]);
    const err = await cni()
      .addNetworkList(list, rt('ctr-fail'))
      .catch((e) => e);
    expect(err.message).toBe('plugin type="b" name="spynet" failed (add): try later: lock busy');
    expect(err.code).toBe(11);
    expect(spyCalls(log).map((c) => c.type)).toEqual(['a', 'b']);
    expect(() => readdirSync(join(cacheDir, 'results'))).toThrow();
  });

  it('a plugin that dies without a JSON error is reported with its stderr', async () => {
    spy('a', { crash: { ADD: 'panic: something broke\n' } });
    const seen: string[] = [];
    const err = await cni({ onStderr: (t) => seen.push(t) })
      .addNetworkList(makeList('1.0.0', [{ type: 'a' }]), rt('ctr-crash'))
      .catch((e) => e);
    expect(err.message).toBe('plugin type="a" name="spynet" failed (add): netplugin failed: "panic: something broke"');
    expect(seen).toEqual(['panic: something broke\n']);
  });

  it('stderr of a successful plugin is forwarded', async () => {
    spy('a', { stderr: 'warning: hi\n' });
    const seen: string[] = [];
    await cni({ onStderr: (t, p) => seen.push(`${p.type}/${p.verb}: ${t}`) }).addNetworkList(
      makeList('1.0.0', [{ type: 'a' }]),
      rt('ctr-stderr'),
    );
    expect(seen).toEqual(['a/ADD: warning: hi\n']);
  });

  it('a missing plugin binary fails ADD naming the plugin and the path', async () => {
    await expect(cni().addNetworkList(makeList('1.0.0', [{ type: 'ghost' }]), rt('ctr-ghost'))).rejects.toThrow(
      `plugin type="ghost" name="spynet" failed (add): failed to find plugin "ghost" in path [${bin} /nonexistent]`,
    );
  });

  it('a plugin that hangs is killed at the timeout', async () => {
    spy('slow', { sleepMs: 20_000, sleepOn: 'ADD' });
    const t0 = Date.now();
    const err = await cni({ execTimeoutMs: 400 })
      .addNetworkList(makeList('1.0.0', [{ type: 'slow' }]), rt('ctr-slow'))
      .catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(err.message).toMatch(
      /^plugin type="slow" name="spynet" failed \(add\): plugin .*slow timed out after 400 ms/,
    );
    expect(err.code).toBe(11);
  });

  it('an AbortSignal kills the plugin', async () => {
    spy('slow', { sleepMs: 20_000, sleepOn: 'DEL' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const t0 = Date.now();
    const err = await cni()
      .delNetworkList(makeList('1.0.0', [{ type: 'slow' }]), rt('ctr-abort'), ac.signal)
      .catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(err.message).toMatch(/failed \(delete\): plugin .*slow was aborted/);
  });

  for (const how of ['directly', 'through nsenter'] as const) {
    it(`a "text file busy" plugin is retried (${how})`, async () => {
      const file = spy('busy');
      // Hold the binary open for writing while the exec happens: execve fails with ETXTBSY until we close it.
      const { openSync, closeSync } = await import('node:fs');
      const fd = openSync(file, 'r+');
      setTimeout(() => closeSync(fd), 500);
      const c = how === 'directly' ? new CNIConfig({ binDirs: [bin], cacheDir, onStderr: () => {} }) : cni();
      const result = await c.addNetworkList(makeList('1.0.0', [{ type: 'busy' }]), rt('ctr-busy'));
      expect(result.cniVersion).toBe('1.0.0');
      expect(spyCalls(log).map((x) => x.cmd)).toEqual(['ADD']);
    });
  }

  it('converts results to the list version', async () => {
    spy('a');
    const r = rt('ctr-conv');
    // The spy answers in the config's version; a 0.4.0 list gets ips[].version back from the converter.
    const result = await cni().addNetworkList(makeList('0.4.0', [{ type: 'a' }]), r);
    expect(result.ips).toEqual([{ address: '10.99.0.5/24', gateway: '10.99.0.1', interface: 0 }]);
    const cached = await cni().getNetworkListCachedResult(makeList('1.0.0', [{ type: 'a' }]), r);
    expect(cached).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.99.0.5/24' }] });
    const legacy = await cni().getNetworkListCachedResult(makeList('0.2.0', [{ type: 'a' }]), r);
    expect(legacy).toEqual({ cniVersion: '0.2.0', ip4: { ip: '10.99.0.5/24', gateway: '10.99.0.1' }, dns: {} });
  });

  it('converts a plugin answering in another version to the list version, both ways', async () => {
    spy('old', { answerVersion: '0.4.0' });
    spy('new', { answerVersion: '1.1.0' });
    expect(await cni().addNetworkList(makeList('1.0.0', [{ type: 'old' }]), rt('ctr-up'))).toEqual({
      cniVersion: '1.0.0',
      ips: [{ address: '10.99.0.5/24' }],
    });
    expect(await cni().addNetworkList(makeList('0.3.1', [{ type: 'new' }]), rt('ctr-down'))).toEqual({
      cniVersion: '0.3.1',
      ips: [{ address: '10.99.0.5/24', version: '4' }],
    });
  });

  it('a plugin whose ADD output is not a result fails with code 6, named', async () => {
    spy('noisy', { rawAdd: 'hello, not json' });
    const err = await cni()
      .addNetworkList(makeList('1.0.0', [{ type: 'noisy' }]), rt('ctr-noisy'))
      .catch((e) => e);
    expect(err.code).toBe(6);
    expect(err.message).toMatch(/^plugin type="noisy" name="spynet" failed \(add\): decoding the plugin's result/);
  });

  it('rejects a bad container id, network name or ifname before running anything', async () => {
    spy('a');
    const list = makeList('1.0.0', [{ type: 'a' }]);
    await expect(cni().addNetworkList(list, rt('../etc'))).rejects.toMatchObject({ code: 4 });
    await expect(cni().addNetworkList(list, rt('ok', 'a/b'))).rejects.toMatchObject({ code: 4 });
    await expect(
      cni().addNetworkList(confListFromBytes(JSON.stringify({ name: 'bad name', plugins: [{ type: 'a' }] })), rt('ok')),
    ).rejects.toMatchObject({ code: 7 });
    expect(spyCalls(log)).toEqual([]);
  });

  it('single-plugin verbs (deprecated format) cache the plugin bytes under its own name', async () => {
    spy('solo');
    const net = confFromBytes(JSON.stringify({ cniVersion: '1.0.0', name: 'solonet', type: 'solo' }));
    const r = rt('ctr-solo');
    const result = await cni().addNetwork(net, r);
    const cached = JSON.parse(readFileSync(join(cacheDir, 'results', 'solonet-ctr-solo-eth0'), 'utf8'));
    expect(Buffer.from(cached.config, 'base64').equals(net.bytes)).toBe(true);
    expect(await cni().getNetworkCachedResult(net, r)).toEqual(result);
    await cni().checkNetwork(net, r);
    expect(await cni().validateNetwork(net)).toEqual([]);
    await cni().delNetwork(net, r);
    expect(spyCalls(log).map((c) => c.cmd)).toEqual(['ADD', 'CHECK', 'DEL']);
    expect(spyCalls(log)[2].conf.prevResult).toEqual(result);
  });

  describe('GC', () => {
    it('DELs stale cached attachments of this network, then GCs every plugin with both attachment keys', async () => {
      spy('a');
      spy('b');
      const list = makeList('1.1.0', [{ type: 'a' }, { type: 'b' }]);
      const other = confListFromBytes(
        JSON.stringify({ cniVersion: '1.1.0', name: 'othernet', plugins: [{ type: 'a' }] }),
      );
      const keep = rt('keep', 'eth0');
      const stale1 = rt('stale1', 'eth0', { args: [['K8S_POD_NAME', 'gone']], capabilityArgs: { portMappings: [] } });
      const stale2 = rt('keep', 'net1');
      for (const r of [keep, stale1, stale2]) await cni().addNetworkList(list, r);
      await cni().addNetworkList(other, rt('stale1', 'eth0'));
      rmSync(log);

      await cni().gcNetworkList(list, { validAttachments: [{ containerID: 'keep', ifname: 'eth0' }] });
      const calls = spyCalls(log);
      const dels = calls.filter((c) => c.cmd === 'DEL');
      expect(dels.map((c) => `${c.type}:${c.env.CNI_CONTAINERID}/${c.env.CNI_IFNAME}`)).toEqual([
        'b:keep/net1',
        'a:keep/net1',
        'b:stale1/eth0',
        'a:stale1/eth0',
      ]);
      const staleDel = dels.find((c) => c.env.CNI_CONTAINERID === 'stale1')!;
      expect(staleDel.env.CNI_ARGS).toBe('K8S_POD_NAME=gone');
      expect(staleDel.env.CNI_NETNS).toBe(stale1.netNS);
      expect(staleDel.conf.prevResult.interfaces[0].sandbox).toBe(stale1.netNS);
      const gcs = calls.filter((c) => c.cmd === 'GC');
      expect(gcs.map((c) => c.type)).toEqual(['a', 'b']);
      for (const g of gcs) {
        expect(g.conf['cni.dev/valid-attachments']).toEqual([{ containerID: 'keep', ifname: 'eth0' }]);
        expect(g.conf['cni.dev/attachments']).toEqual([{ containerID: 'keep', ifname: 'eth0' }]);
        expect(g.conf).toMatchObject({ name: 'spynet', cniVersion: '1.1.0' });
        expect(g.env).toMatchObject({
          CNI_COMMAND: 'GC',
          CNI_CONTAINERID: '',
          CNI_NETNS: '',
          CNI_IFNAME: '',
          CNI_PATH: `${bin}:/nonexistent`,
        });
      }
      expect(readdirSync(join(cacheDir, 'results')).sort()).toEqual(['othernet-stale1-eth0', 'spynet-keep-eth0']);
    });

    it('keeps going after errors and reports them together', async () => {
      spy('a', { fail: { DEL: { code: 100, msg: 'del broke' }, GC: { code: 101, msg: 'gc broke' } } });
      spy('b');
      const list = makeList('1.1.0', [{ type: 'a' }, { type: 'b' }]);
      await cni().addNetworkList(list, rt('s1'));
      await cni().addNetworkList(list, rt('s2'));
      const err = await cni()
        .gcNetworkList(list, { validAttachments: [] })
        .catch((e) => e);
      expect(err.message).toContain(
        'failed to delete stale attachment s1 eth0: plugin type="a" name="spynet" failed (delete): del broke',
      );
      expect(err.message).toContain('failed to delete stale attachment s2 eth0');
      expect(err.message).toContain('plugin type="a" name="spynet" failed (gc): gc broke');
      expect(
        spyCalls(log)
          .filter((c) => c.cmd === 'GC')
          .map((c) => c.type),
      ).toEqual(['a', 'b']);
    });

    it('disableGC makes it a no-op; before 1.1.0 only the stale DELs run', async () => {
      spy('a');
      await cni().addNetworkList(makeList('1.0.0', [{ type: 'a' }]), rt('old1'));
      await cni().gcNetworkList(makeList('1.1.0', [{ type: 'a' }], { disableGC: true }), { validAttachments: [] });
      expect(spyCalls(log).map((c) => c.cmd)).toEqual(['ADD']);
      await cni().gcNetworkList(makeList('1.0.0', [{ type: 'a' }]), { validAttachments: [] });
      expect(spyCalls(log).map((c) => c.cmd)).toEqual(['ADD', 'DEL']);
    });
  });

  describe('STATUS', () => {
    it('asks every plugin at 1.1.0 and returns the first failure with its code', async () => {
      spy('a');
      spy('b', { fail: { STATUS: { code: 50, msg: 'no IPs left' } } });
      spy('c');
      const list = makeList('1.1.0', [{ type: 'a' }, { type: 'b' }, { type: 'c' }]);
      const err = await cni()
        .getStatusNetworkList(list)
        .catch((e) => e);
      expect(err.code).toBe(50);
      expect(err.message).toBe('plugin type="b" name="spynet" failed (status): no IPs left');
      expect(spyCalls(log).map((c) => `${c.type}:${c.cmd}`)).toEqual(['a:STATUS', 'b:STATUS']);
      expect(spyCalls(log)[0].env).toMatchObject({ CNI_COMMAND: 'STATUS', CNI_CONTAINERID: '', CNI_NETNS: '' });
      await cni().getStatusNetworkList(makeList('1.1.0', [{ type: 'a' }, { type: 'c' }]));
      await cni().getStatusNetworkList(makeList('1.0.0', [{ type: 'b' }]));
      expect(spyCalls(log)).toHaveLength(4);
    });
  });

  describe('validation', () => {
    it('checks binaries and versions, and returns the union of enabled capabilities', async () => {
      spy('new', { versions: ['1.0.0', '1.1.0'] });
      spy('old', { versions: ['0.3.1', '0.4.0', '1.0.0'] });
      const ok = makeList('1.0.0', [
        { type: 'new', capabilities: { portMappings: true, mac: false } },
        { type: 'old', capabilities: { bandwidth: true, portMappings: true } },
      ]);
      expect(await cni().validateNetworkList(ok)).toEqual(['bandwidth', 'portMappings']);
      const bad = makeList('1.1.0', [{ type: 'new' }, { type: 'old' }, { type: 'ghost' }]);
      const { problems } = await cni().findProblems(bad);
      expect(problems).toEqual([
        'plugins[1] (type "old"): does not support config version "1.1.0" (it supports 0.3.1, 0.4.0, 1.0.0): set "cniVersion" to "1.0.0" or list it in "cniVersions"',
        `plugins[2] (type "ghost"): binary not found in [${bin} /nonexistent]: install it there or fix "type"`,
      ]);
      await expect(cni().validateNetworkList(bad)).rejects.toMatchObject({ code: 7 });
      expect(await cni().getVersionInfo('old')).toEqual(['0.3.1', '0.4.0', '1.0.0']);
      // A plugin from before VERSION existed answers "unknown CNI_COMMAND": it speaks 0.1.0.
      writeFileSync(
        join(bin, 'ancient'),
        '#!/bin/sh\necho \'{"code":4,"msg":"unknown CNI_COMMAND: VERSION"}\'\nexit 1\n',
        { mode: 0o755 },
      );
      expect(await cni().getVersionInfo('ancient')).toEqual(['0.1.0']);
      expect(await cni().validateNetworkList(makeList('0.1.0', [{ type: 'ancient' }]))).toEqual([]);
    });
  });
});
