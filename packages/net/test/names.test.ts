import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashedName, randomHex8, randomTempName, randomVethName } from '../src/host/names';

const root = resolve(__dirname, '../../..');
const bunBin = join(root, 'node_modules/@oven/bun-linux-x64/bin/bun');
const sha512 = (s: string) => createHash('sha512').update(s).digest('hex');

describe('host names', () => {
  it('hashedName is the prefix and sha512 hex of the joined parts, cut to length', () => {
    expect(hashedName('CNI-', 28, 'net1', 'ctr1')).toBe(('CNI-' + sha512('net1ctr1')).slice(0, 28));
    expect(hashedName('bwp', 15, 'n', 'c')).toBe(('bwp' + sha512('nc')).slice(0, 15));
    expect(hashedName('x', 200, 'ä', '€')).toBe(('x' + sha512('ä€')).slice(0, 200));
  });

  it('random names are 8 fresh hex digits after their prefix', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const hex = randomHex8();
      expect(hex).toMatch(/^[0-9a-f]{8}$/);
      seen.add(hex);
    }
    expect(seen.size).toBeGreaterThan(195);
    expect(randomVethName()).toMatch(/^veth[0-9a-f]{8}$/);
    expect(randomTempName()).toMatch(/^tmp[0-9a-f]{8}$/);
    expect(randomTempName('mv')).toMatch(/^mv[0-9a-f]{8}$/);
  });

  // The Bun executable takes Bun's own hasher (no node:crypto): the same names as under Node.
  it.skipIf(!existsSync(bunBin))('gives the same names under Bun', () => {
    const script =
      `import { hashedName, randomVethName } from ${JSON.stringify(join(root, 'packages/net/src/host/names.ts'))};` +
      `console.log(JSON.stringify([typeof Bun, hashedName('CNI-', 28, 'net1', 'ctr1'), hashedName('x', 200, 'ä', '€'), randomVethName()]));`;
    const r = spawnSync(bunBin, ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const [kind, a, b, veth] = JSON.parse(r.stdout) as string[];
    expect(kind).toBe('object');
    expect(a).toBe(('CNI-' + sha512('net1ctr1')).slice(0, 28));
    expect(b).toBe(('x' + sha512('ä€')).slice(0, 200));
    expect(veth).toMatch(/^veth[0-9a-f]{8}$/);
  });
});
