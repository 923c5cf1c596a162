import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { delegateAdd, delegateDel, embedDelegate, type PluginFuncs } from '../src';

const dir = mkdtempSync(join(tmpdir(), 'tscni-embed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const seen: string[] = [];
const fake: PluginFuncs = {
  add: (a) => {
    seen.push(`ADD ${a.containerID} ${a.netConf.name}`);
    return { cniVersion: '1.0.0', ips: [{ address: '10.0.0.9/24' }] };
  },
  del: (a) => void seen.push(`DEL ${a.containerID}`),
};
embedDelegate('fakeipam', () => fake);
// The executable a CNI_PATH may hold instead: prints a different address so the test can tell them apart.
const script = (marker: boolean) =>
  `#!/usr/bin/env node\n${marker ? '// tscni:fakeipam\n' : ''}process.stdout.write(JSON.stringify({cniVersion:'1.0.0',ips:[{address:'10.0.0.77/24'}]}));\n`;
const env = (path: string) => ({
  PATH: process.env.PATH,
  CNI_PATH: path,
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/var/run/netns/x',
  CNI_IFNAME: 'eth0',
});
const conf = { cniVersion: '1.0.0', name: 'n1', type: 'bridge', ipam: { type: 'fakeipam' } };

describe('embedded delegates', () => {
  it('run in-process when CNI_PATH holds our own build of the delegate', async () => {
    const ours = join(dir, 'ours');
    mkdirSync(ours);
    writeFileSync(join(ours, 'fakeipam'), script(true), { mode: 0o755 });
    const r = await delegateAdd('fakeipam', conf, env(ours));
    expect(r.ips).toEqual([{ address: '10.0.0.9/24' }]);
    await delegateDel('fakeipam', conf, env(ours));
    expect(seen).toEqual(['ADD c1 n1', 'DEL c1']);
  });

  it("exec the file when it is someone else's build", async () => {
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs);
    writeFileSync(join(theirs, 'fakeipam'), script(false));
    chmodSync(join(theirs, 'fakeipam'), 0o755);
    const r = await delegateAdd('fakeipam', conf, env(theirs));
    expect(r.ips).toEqual([{ address: '10.0.0.77/24' }]);
  });

  it("keep the skeleton's validation and error codes in-process", async () => {
    const ours = join(dir, 'ours');
    await expect(delegateAdd('fakeipam', conf, { ...env(ours), CNI_CONTAINERID: 'bad/id' })).rejects.toMatchObject({
      code: 4,
    });
    await expect(delegateAdd('fakeipam', { ...conf, cniVersion: '7.0.0' }, env(ours))).rejects.toMatchObject({
      code: 1,
    });
  });
});
