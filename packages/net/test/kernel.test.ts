import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addrCidr,
  getLink,
  ipBatch,
  listAddrs,
  listRoutes,
  readSysctlsIn,
  routeDst,
  tcBatch,
  listQdiscs,
  withFileLock,
  writeSysctlsIn,
} from '../src/host';
import { iptablesRestore, iptablesSave, nftApply, nftJson, savedRules } from '../src/netfilter';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { TEST_REGISTRY, TestNode, missingForKernelTests, reapStaleTestNodes, uniqueName } from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables', 'nft', 'tc', 'flock']);

describe.skipIf(!!missing)(`net on a real kernel${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  beforeAll(() => {
    node = new TestNode('net');
  });
  afterAll(() => node?.destroy());

  it('creates, configures and reads links, addresses and routes in one batch', async () => {
    await ipBatch(
      [
        ['link', 'add', 'tdummy0', 'type', 'veth', 'peer', 'name', 'tdummy0p'],
        ['addr', 'add', '10.77.0.1/24', 'dev', 'tdummy0'],
        ['link', 'set', 'dev', 'tdummy0', 'mtu', 1400, 'up'],
        ['route', 'add', '10.78.0.0/16', 'via', '10.77.0.254', 'dev', 'tdummy0'],
      ],
      node.path,
    );
    const link = await getLink('tdummy0', node.path);
    expect(link).toMatchObject({ ifname: 'tdummy0', mtu: 1400 });
    expect(link!.flags).toContain('UP');
    expect((await listAddrs('tdummy0', node.path)).map(addrCidr)).toEqual(['10.77.0.1/24']);
    const routes = await listRoutes(4, node.path);
    expect(routes.map((r) => routeDst(r, 4))).toEqual(expect.arrayContaining(['10.77.0.0/24', '10.78.0.0/16']));
    expect(await getLink('nope0', node.path)).toBeUndefined();
    expect(await listAddrs('nope0', node.path)).toEqual([]);
  });

  it('writes and reads sysctls inside the namespace', async () => {
    await writeSysctlsIn(node.path, { 'net.ipv4.ip_forward': 1, 'net.ipv4.conf.lo.arp_notify': 1 });
    expect(await readSysctlsIn(node.path, ['net.ipv4.ip_forward', 'net.ipv4.conf.lo.arp_notify'])).toEqual(['1', '1']);
  });

  it('applies iptables-restore --noflush and nft -f in the namespace', async () => {
    await iptablesRestore(
      4,
      '*nat\n:CNI-TEST - [0:0]\n-A CNI-TEST -d 10.0.0.0/8 -m comment --comment "tscni test" -j ACCEPT\nCOMMIT\n',
      node.path,
    );
    expect(savedRules(await iptablesSave(4, 'nat', node.path), 'CNI-TEST')).toEqual([
      '-d 10.0.0.0/8 -m comment --comment "tscni test" -j ACCEPT',
    ]);
    await iptablesRestore(4, '*nat\n-F CNI-TEST\n-X CNI-TEST\nCOMMIT\n', node.path);
    expect(await iptablesSave(4, 'nat', node.path)).not.toContain('CNI-TEST');
    await nftApply('table inet tscni_test {\n chain c { type filter hook forward priority 0; }\n}\n', node.path);
    expect(JSON.stringify(await nftJson(['list', 'table', 'inet', 'tscni_test'], node.path))).toContain('"name":"c"');
    await nftApply('delete table inet tscni_test\n', node.path);
  });

  it('batches tc commands', async () => {
    await ipBatch(
      [
        ['link', 'add', 'tdummy1', 'type', 'veth', 'peer', 'name', 'tdummy1p'],
        ['link', 'set', 'dev', 'tdummy1', 'up'],
      ],
      node.path,
    );
    await tcBatch(
      [
        [
          'qdisc',
          'add',
          'dev',
          'tdummy1',
          'root',
          'handle',
          '1:',
          'tbf',
          'rate',
          '1mbit',
          'burst',
          '32kb',
          'latency',
          '25ms',
        ],
      ],
      node.path,
    );
    expect((await listQdiscs('tdummy1', node.path)).map((q) => q.kind)).toContain('tbf');
  });

  it('serialises critical sections with flock (and interoperates with flock(1))', async () => {
    const lock = join(node.tmp, 'lock');
    const log: string[] = [];
    const section = (tag: string) =>
      withFileLock(lock, async () => {
        log.push(`${tag}>`);
        await new Promise((r) => setTimeout(r, 30));
        log.push(`<${tag}`);
      });
    await Promise.all([section('a'), section('b'), section('c')]);
    expect(log.join(' ')).toMatch(/^(\w)> <\1 (\w)> <\2 (\w)> <\3$/);
    expect(existsSync(lock)).toBe(true);
    expect(readFileSync(lock, 'utf8')).toBe('');
  });

  it('reaps the namespaces of a test process that died before its clean-up, and only those', () => {
    const dead = spawnSync('true').pid!;
    const orphan = uniqueName('orph');
    spawnSync('ip', ['netns', 'add', orphan]);
    mkdirSync(TEST_REGISTRY, { recursive: true });
    writeFileSync(join(TEST_REGISTRY, orphan), `${dead}\n${orphan}\n`);
    expect(reapStaleTestNodes()).toContain(orphan);
    expect(existsSync(`/var/run/netns/${orphan}`)).toBe(false);
    expect(existsSync(`/var/run/netns/${node.name}`), 'a live node is left alone').toBe(true);
  });
});
