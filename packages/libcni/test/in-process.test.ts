/**
 * inProcessExec without a kernel: which files it takes for ours, that it hands each call its own env and
 * stdin, and that its outputs and errors are byte for byte what exec'ing our bundle gives.
 */
import { existsSync, linkSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CniError, ourBuildName, type CmdArgs, type PluginFuncs } from '@tscni/cni';
import { cniOutcome as outcome } from '@tscni/testing/cni-outcome';
import { DIST_BIN } from '@tscni/testing/node';
import { defaultExec, inProcessExec, pluginEnv, type PluginExec } from '../src';

const dir = mkdtempSync(join(tmpdir(), 'libcni-inproc-'));
const BUN_BIN = join(import.meta.dirname, '../../../dist/bun/cni-bin');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const marked = (name: string, file = name) => {
  writeFileSync(join(dir, file), `#!/usr/bin/env node\n// tscni:${name}\nprocess.exitCode = 3;\n`, { mode: 0o755 });
  return join(dir, file);
};

describe('ourBuildName', () => {
  it('reads the marker line, and re-reads it when the file changes', () => {
    const f = marked('bridge', 'x');
    expect(ourBuildName(f)).toBe('bridge');
    writeFileSync(f, '#!/bin/sh\necho hi and a longer body\n');
    expect(ourBuildName(f)).toBeUndefined();
    expect(ourBuildName(join(dir, 'absent'))).toBeUndefined();
    expect(ourBuildName(dir)).toBeUndefined();
  });

  it('takes a link to the Bun multi-call executable for the plugin it is named after, when the executable serves it', () => {
    const exe = join(dir, 'tscni-cni');
    const elf = Buffer.concat([
      Buffer.from([0x7f, 0x45, 0x4c, 0x46]),
      Buffer.alloc(4096, 1),
      Buffer.from('\n// tscni-multicall:bridge,host-local\n'),
    ]);
    writeFileSync(exe, elf, { mode: 0o755 });
    linkSync(exe, join(dir, 'host-local'));
    symlinkSync(exe, join(dir, 'bridge'));
    symlinkSync(exe, join(dir, 'portmap'));
    expect(ourBuildName(join(dir, 'host-local'))).toBe('host-local');
    expect(ourBuildName(join(dir, 'bridge'))).toBe('bridge');
    expect(ourBuildName(join(dir, 'portmap'))).toBeUndefined(); // a name it does not serve
    expect(ourBuildName(exe)).toBeUndefined(); // the executable itself is no plugin
    writeFileSync(join(dir, 'elf'), elf.subarray(0, 4000), { mode: 0o755 }); // any other ELF binary
    expect(ourBuildName(join(dir, 'elf'))).toBeUndefined();
  });

  it('recognizes every link of the Bun build (tools/bun-build.mjs, built by the vitest global setup)', () => {
    for (const name of ['loopback', 'bridge', 'host-local', 'dhcp'])
      expect(ourBuildName(join(BUN_BIN, name))).toBe(name);
  });
});

describe('inProcessExec', () => {
  const calls: string[] = [];
  const fallback: PluginExec = async (file) => {
    calls.push(file);
    return { stdout: 'exec\n', stderr: '' };
  };
  const fake: PluginFuncs = {
    add: async (a: CmdArgs) => {
      await new Promise((r) => setTimeout(r, a.containerID === 'slow' ? 50 : 1));
      return {
        cniVersion: '1.0.0',
        ips: [{ address: `10.0.0.${a.containerID === 'slow' ? 1 : 2}/24` }],
        dns: {},
        interfaces: [{ name: a.ifName, sandbox: a.env.CNI_NETNS }],
      } as never;
    },
    del: (a: CmdArgs) => {
      if (a.args.includes('BOOM')) throw new Error('boom');
      throw new CniError(11, 'try again', 'some details');
    },
    check: () => new Promise(() => {}),
  };
  const exec = inProcessExec({ fake: () => ({ funcs: fake }) }, fallback);
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'fake' });

  it('calls our plugin with its own env per call, concurrently, and prints what the executable prints', async () => {
    const f = marked('fake');
    const before = { ...process.env };
    const [slow, fast] = await Promise.all(
      ['slow', 'fast'].map((id) =>
        exec(f, {
          env: pluginEnv('ADD', { containerID: id, netNS: `/run/netns/${id}`, ifName: 'eth0' }, [dir], {}),
          stdin,
        }),
      ),
    );
    expect(JSON.parse(slow.stdout).interfaces[0].sandbox).toBe('/run/netns/slow');
    expect(JSON.parse(fast.stdout).interfaces[0].sandbox).toBe('/run/netns/fast');
    expect(slow.stdout.endsWith('}\n')).toBe(true);
    expect(process.env).toEqual(before);
    expect(process.exitCode ?? 0).toBe(0);
    expect(calls).toEqual([]);
  });

  it('turns errors into the exec path`s CniError (code, msg, details, stderr), a crash into 999', async () => {
    const f = marked('fake');
    const del = (args: [string, string][] = []) =>
      outcome(exec(f, { env: pluginEnv('DEL', { containerID: 'c', ifName: 'eth0', args }, [dir], {}), stdin }));
    expect(await del()).toEqual({ err: { code: 11, msg: 'try again', details: 'some details', stderr: '' } });
    expect(await del([['BOOM', '1']])).toEqual({ err: { code: 999, msg: 'boom', details: '', stderr: '' } });
    const check = exec(f, {
      env: pluginEnv('CHECK', { containerID: 'c', netNS: '/x', ifName: 'eth0' }, [dir], {}),
      stdin,
      timeoutMs: 30,
    });
    expect(await outcome(check)).toEqual({
      err: { code: 11, msg: `plugin ${f} timed out after 30 ms`, details: '', stderr: undefined },
    });
  });

  it('execs anything else: no marker, a plugin it does not know, or a call through a wrapper', async () => {
    writeFileSync(join(dir, 'other'), '#!/bin/sh\n', { mode: 0o755 });
    const env = pluginEnv('VERSION', {}, [dir], {});
    await exec(join(dir, 'other'), { env, stdin });
    await exec(marked('bridge'), { env, stdin });
    await exec(marked('fake'), { env, stdin, wrapper: ['nsenter', '--net=/x', '--'] });
    expect(calls).toEqual([join(dir, 'other'), join(dir, 'bridge'), join(dir, 'fake')]);
  });
});
