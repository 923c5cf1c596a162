import { spawn } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, TestNode, implementations, linksIn, missingForKernelTests, sh } from '@tscni/testing/node';

const missing = missingForKernelTests();

for (const impl of implementations('loopback')) {
  describe.skipIf(!!missing || !impl.present)(
    `loopback (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      let node: TestNode;
      beforeAll(() => {
        node = new TestNode('lo');
      });
      afterAll(() => node?.destroy());

      const env = (command: string, netns: string, extra: Record<string, string> = {}) => ({
        CNI_COMMAND: command,
        CNI_CONTAINERID: 'ctr-loopback-1',
        CNI_NETNS: netns,
        CNI_IFNAME: 'lo',
        CNI_PATH: DIST_BIN,
        ...extra,
      });

      for (const version of impl.versions.filter((v) => v >= '0.3.0')) {
        it(`ADD, CHECK, DEL at ${version}`, async () => {
          const pod = node.addPod();
          const conf = { cniVersion: version, name: 'lo-net', type: 'loopback' };
          const add = await node.runPlugin(impl.bin, env('ADD', pod), conf);
          expect(add.code, add.stdout + add.stderr).toBe(0);
          expect(add.json.cniVersion).toBe(version);
          expect(add.json.interfaces).toEqual([{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: pod }]);
          const addresses = add.json.ips.map((ip: { address: string }) => ip.address);
          expect(addresses).toContain('127.0.0.1/8');
          expect(linksIn(pod).find((l) => l.ifname === 'lo')!.flags).toContain('UP');

          const check = await node.runPlugin(impl.bin, env('CHECK', pod), { ...conf, prevResult: add.json });
          if (version >= '0.4.0') expect(check.code, check.stdout).toBe(0);
          else expect(check.json).toMatchObject({ code: 1, msg: 'config version does not allow CHECK' });
          const del = await node.runPlugin(impl.bin, env('DEL', pod), { ...conf, prevResult: add.json });
          expect(del.code, del.stdout).toBe(0);
          expect(linksIn(pod).find((l) => l.ifname === 'lo')!.flags).not.toContain('UP');
        });
      }

      it('ADD with a prevResult passes it through', async () => {
        const pod = node.addPod();
        const prevResult = {
          cniVersion: '1.0.0',
          interfaces: [{ name: 'eth0', sandbox: pod }],
          ips: [{ address: '10.1.2.3/24', interface: 0 }],
        };
        const add = await node.runPlugin(impl.bin, env('ADD', pod), {
          cniVersion: '1.0.0',
          name: 'n',
          type: 'loopback',
          prevResult,
        });
        expect(add.code, add.stdout).toBe(0);
        expect(add.json.ips).toEqual(prevResult.ips);
        expect(add.json.interfaces).toEqual(prevResult.interfaces);
      });

      it('CHECK fails when lo is down', async () => {
        const pod = node.addPod();
        const check = await node.runPlugin(impl.bin, env('CHECK', pod), {
          cniVersion: '1.0.0',
          name: 'n',
          type: 'loopback',
          prevResult: { cniVersion: '1.0.0' },
        });
        expect(check.code).not.toBe(0);
        expect(check.json.code).toBeGreaterThan(0);
      });

      it('DEL succeeds when the netns is already gone', async () => {
        const del = await node.runPlugin(impl.bin, env('DEL', '/var/run/netns/does-not-exist-xyz'), {
          cniVersion: '1.0.0',
          name: 'n',
          type: 'loopback',
        });
        expect(del.code, del.stdout).toBe(0);
      });

      it.skipIf(impl.name !== 'tscni')("refuses the plugin's own network namespace", async () => {
        const add = await node.runPlugin(impl.bin, env('ADD', '/proc/self/ns/net'), {
          cniVersion: '1.0.0',
          name: 'n',
          type: 'loopback',
        });
        expect(add.code).toBe(1);
        expect(add.json).toEqual({
          code: 8,
          msg: "netns must not be the plugin's own network namespace",
          details: '/proc/self/ns/net',
        });
      });

      it('VERSION lists the supported versions', async () => {
        const v = await node.runPlugin(impl.bin, { CNI_COMMAND: 'VERSION' }, { cniVersion: '1.0.0' });
        expect(v.code).toBe(0);
        expect(v.json.supportedVersions).toEqual(expect.arrayContaining(['0.3.1', '0.4.0', '1.0.0']));
      });

      it('reads a config that arrives in parts on a non-blocking stdin', async () => {
        // A FIFO opened O_NONBLOCK and handed over as fd 0: the description, flag included, is shared with the
        // plugin, which must wait for the writer instead of failing on EAGAIN or taking half a config.
        const pod = node.addPod();
        const fifo = join(node.tmp, 'stdin.fifo');
        sh('mkfifo', [fifo]);
        const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
        const writeEnd = openSync(fifo, constants.O_WRONLY);
        const child = spawn(impl.bin, [], { env: env('ADD', pod), stdio: [readEnd, 'pipe', 'pipe'] });
        closeSync(readEnd);
        let stdout = '';
        child.stdout!.on('data', (d: Buffer) => (stdout += d));
        const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
        await new Promise((r) => setTimeout(r, 200));
        writeSync(writeEnd, '{"cniVersion":"1.0.0",');
        await new Promise((r) => setTimeout(r, 100));
        writeSync(writeEnd, '"name":"lo-net","type":"loopback"}');
        closeSync(writeEnd);
        expect(await exited, stdout).toBe(0);
        expect(JSON.parse(stdout).interfaces).toEqual([{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: pod }]);
        expect(linksIn(pod).find((l) => l.ifname === 'lo')!.flags).toContain('UP');
      });

      describe('bad input gets the spec error code', () => {
        const cases: [string, Record<string, string>, string, number][] = [
          ['broken JSON', {}, '{"cniVersion":', 6],
          // Go's decoder refuses a byte-order mark; Bun's stream reader would drop it (stdin is read by read(2)).
          [
            'a config behind a UTF-8 byte-order mark',
            {},
            '\uFEFF{"cniVersion":"1.0.0","name":"n","type":"loopback"}',
            6,
          ],
          ['an unsupported cniVersion', {}, '{"cniVersion":"9.9.9","name":"n","type":"loopback"}', 1],
          ['a missing CNI_NETNS', { CNI_NETNS: '' }, '{"cniVersion":"1.0.0","name":"n","type":"loopback"}', 4],
          [
            'a malformed container id',
            { CNI_CONTAINERID: '../etc' },
            '{"cniVersion":"1.0.0","name":"n","type":"loopback"}',
            4,
          ],
          ['a malformed ifname', { CNI_IFNAME: 'a/b' }, '{"cniVersion":"1.0.0","name":"n","type":"loopback"}', 4],
          ['an unknown command', { CNI_COMMAND: 'FROB' }, '{"cniVersion":"1.0.0","name":"n","type":"loopback"}', 4],
        ];
        for (const [what, override, stdin, code] of cases) {
          it(what, async () => {
            const pod = node.addPod();
            const e = { ...env('ADD', pod), ...override };
            for (const k of Object.keys(e)) if (e[k as keyof typeof e] === '') delete e[k as keyof typeof e];
            const r = await node.runPlugin(impl.bin, e, stdin);
            expect(r.code).toBe(1);
            expect(r.json.code, r.stdout).toBe(code);
            expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
          });
        }
      });
    },
  );
}
