/**
 * The Bun build (tools/bun-build.mjs, built by the vitest global setup): one executable, a symlink per plugin that
 * dispatches on its name, the list of names after the ELF image, and nothing read from the working directory.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { BUN_BIN_DIR, MULTICALL_NAME } from '../bun-build.mjs';
// @ts-expect-error plain ESM script without types
import { executables } from '../bundle.mjs';

const plugins: string[] = executables()
  .filter((t: { out: string }) => t.out.includes('/cni-bin/'))
  .map((t: { name: string }) => t.name)
  .sort();
const cwd = mkdtempSync(join(tmpdir(), 'bun-build-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
const run = (name: string, env: Record<string, string>, args: string[] = []) =>
  spawnSync(join(BUN_BIN_DIR, name), args, { cwd, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });

describe('tools/bun-build.mjs', () => {
  it('lays out one executable and a symlink to it per plugin', () => {
    expect(readdirSync(BUN_BIN_DIR).sort()).toEqual([...plugins, MULTICALL_NAME].sort());
    for (const p of plugins) expect(readlinkSync(join(BUN_BIN_DIR, p))).toBe(MULTICALL_NAME);
    expect(lstatSync(join(BUN_BIN_DIR, MULTICALL_NAME)).isFile()).toBe(true);
  });

  it('ends with the list of the plugins it serves (what ourBuildName reads)', () => {
    const tail = readFileSync(join(BUN_BIN_DIR, MULTICALL_NAME)).subarray(-1024).toString('latin1');
    expect(/\n\/\/ tscni-multicall:([a-z0-9,-]+)\n$/.exec(tail)?.[1].split(',').sort()).toEqual(plugins);
  });

  it('acts as the plugin it is invoked as, and refuses to run under its own name', () => {
    // Every name: each plugin is a file of its own inside the executable, which the entry require()s by that name.
    for (const p of plugins) {
      const r = run(p, { CNI_COMMAND: 'VERSION' });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).supportedVersions).toContain('1.1.0');
    }
    expect(run('bridge', {}).stderr).toMatch(/tscni bridge plugin/);
    expect(run('tuning', {}).stderr).toMatch(/tscni tuning plugin/);
    const self = run(MULTICALL_NAME, { CNI_COMMAND: 'VERSION' });
    expect(self.status).toBe(1);
    expect(self.stderr).toMatch(/invoke me through a link named after a plugin/);
  });

  it("answers VERSION from the entry's table exactly as the plugin's own file does", () => {
    for (const p of plugins) {
      const fromTable = run(p, { CNI_COMMAND: 'VERSION' });
      // An argument makes the entry load the plugin's file, which answers for itself.
      const fromFile = run(p, { CNI_COMMAND: 'VERSION' }, ['x']);
      expect(fromFile.status, fromFile.stderr).toBe(0);
      expect(fromTable.stdout, p).toBe(fromFile.stdout);
      expect(fromTable.stderr).toBe('');
      expect(fromTable.status).toBe(0);
    }
    expect(JSON.parse(run('bandwidth', { CNI_COMMAND: 'VERSION' }).stdout).supportedVersions).not.toContain('0.2.0');
    // `dhcp daemon` stays the daemon whatever CNI_COMMAND says.
    const daemon = run('dhcp', { CNI_COMMAND: 'VERSION' }, ['daemon', '-h']);
    expect(daemon.stdout).toBe('');
    expect(daemon.stderr).toMatch(/daemon/);
  });

  it('reads no .env or bunfig.toml from its working directory', () => {
    writeFileSync(join(cwd, '.env'), 'CNI_COMMAND=VERSION\n');
    writeFileSync(join(cwd, 'bunfig.toml'), 'preload = ["./nope.ts"]\n');
    const r = run('loopback', {});
    expect(r.stdout).toBe(''); // no CNI_COMMAND: the "about" text on stderr, not a VERSION answer
    expect(r.stderr).toMatch(/tscni loopback plugin/);
  });
});
