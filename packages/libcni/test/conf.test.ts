import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  confFiles,
  confFromBytes,
  confListFromBytes,
  confListFromConf,
  loadConfList,
  loadDefaultConfList,
} from '../src';

const dir = mkdtempSync(join(tmpdir(), 'libcni-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const list = (o: Record<string, unknown>) => JSON.stringify({ name: 'net', plugins: [{ type: 'bridge' }], ...o });

describe('confListFromBytes', () => {
  it('keeps the bytes and decodes name, version, flags and plugins', () => {
    const bytes = Buffer.from(
      list({
        cniVersion: '1.0.0',
        disableCheck: true,
        plugins: [
          { type: 'bridge', bridge: 'cni0' },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    const l = confListFromBytes(bytes);
    expect(l.name).toBe('net');
    expect(l.cniVersion).toBe('1.0.0');
    expect(l.disableCheck).toBe(true);
    expect(l.disableGC).toBe(false);
    expect(l.bytes.equals(bytes)).toBe(true);
    expect(l.plugins.map((p) => p.network.type)).toEqual(['bridge', 'portmap']);
    expect(JSON.parse(l.plugins[0].bytes.toString())).toEqual({ type: 'bridge', bridge: 'cni0' });
  });

  it('reads a plugin object the way Go does (types.NetConf: keys case-insensitive, null unset) and keeps its bytes', () => {
    const bytes = JSON.stringify({ Type: 'portmap', Capabilities: { portMappings: true }, Name: null });
    const c = confFromBytes(bytes);
    expect(c.network).toMatchObject({ type: 'portmap', capabilities: { portMappings: true } });
    expect(c.network.name).toBeUndefined();
    expect(c.bytes.toString()).toBe(bytes);
  });

  it('picks the highest of cniVersion ∪ cniVersions that we implement', () => {
    expect(confListFromBytes(list({ cniVersion: '0.4.0', cniVersions: ['1.0.0', '0.3.1'] })).cniVersion).toBe('1.0.0');
    expect(confListFromBytes(list({ cniVersion: '1.1.0', cniVersions: ['1.0.0'] })).cniVersion).toBe('1.1.0');
    expect(confListFromBytes(list({ cniVersions: ['1.0.0', '1.1.0', '9.0.0'] })).cniVersion).toBe('1.1.0');
    expect(confListFromBytes(list({ cniVersions: ['1.1.0'] })).cniVersions).toEqual(['1.1.0']);
  });

  it('takes the boolean flags as bools or "true"/"false" strings', () => {
    expect(confListFromBytes(list({ disableCheck: 'TRUE', disableGC: 'true' }))).toMatchObject({
      disableCheck: true,
      disableGC: true,
    });
    expect(() => confListFromBytes(list({ disableGC: 'yes' }))).toThrow('invalid value "yes" for disableGC');
    expect(() => confListFromBytes(list({ disableCheck: 1 }))).toThrow('invalid type number for disableCheck');
  });

  const bad: [string, string, string][] = [
    ['no name', JSON.stringify({ plugins: [{ type: 'x' }] }), 'no name'],
    ['plugins not a list', JSON.stringify({ name: 'n', plugins: {} }), "invalid 'plugins' type"],
    ['an empty plugin list', JSON.stringify({ name: 'n', plugins: [] }), 'no plugins in list'],
    [
      'a plugin without type',
      JSON.stringify({ name: 'n', plugins: [{ type: 'a' }, { foo: 1 }] }),
      "failed to parse plugin config 1: error parsing configuration: missing 'type'",
    ],
    ['broken JSON', '{"name":', 'error parsing configuration list'],
    ['a bad cniVersions entry', list({ cniVersions: ['1.0'] }), 'invalid cniVersions entry 1.0 at index 0'],
    ['a non-string cniVersion', list({ cniVersion: 1 }), 'invalid cniVersion type number'],
  ];
  for (const [what, bytes, msg] of bad) {
    it(`rejects ${what} with error 7`, () => {
      expect(() => confListFromBytes(bytes)).toThrow(msg);
      try {
        confListFromBytes(bytes);
      } catch (e) {
        expect((e as { code: number }).code).toBe(7);
      }
    });
  }

  it('upconverts a single-plugin config into a one-plugin list', () => {
    const l = confListFromConf(
      confFromBytes(JSON.stringify({ cniVersion: '0.4.0', name: 'single', type: 'bridge', bridge: 'b0' })),
    );
    expect(l).toMatchObject({ name: 'single', cniVersion: '0.4.0' });
    expect(l.plugins).toHaveLength(1);
    expect(l.plugins[0].network).toMatchObject({ type: 'bridge', bridge: 'b0', name: 'single' });
  });
});

describe('conf dir', () => {
  const d = join(dir, 'net.d');
  mkdirSync(join(d, 'sub.conflist'), { recursive: true });
  writeFileSync(join(d, '99-last.conflist'), list({ name: 'beta', cniVersion: '1.0.0' }));
  writeFileSync(join(d, '10-broken.conflist'), '{ not json');
  writeFileSync(join(d, '20-alpha.conflist'), list({ name: 'alpha', cniVersion: '1.0.0' }));
  writeFileSync(join(d, '30-alpha-again.conflist'), list({ name: 'alpha', cniVersion: '0.4.0' }));
  writeFileSync(join(d, '05-single.conf'), JSON.stringify({ cniVersion: '0.3.1', name: 'single', type: 'ptp' }));
  writeFileSync(join(d, '06-dup.conf'), JSON.stringify({ cniVersion: '0.3.1', name: 'beta', type: 'ptp' }));
  writeFileSync(join(d, 'README.md'), 'not a config');

  it('lists config files in lexical order, skipping directories and other extensions', () => {
    expect(confFiles(d).map((f) => f.slice(d.length + 1))).toEqual([
      '05-single.conf',
      '06-dup.conf',
      '10-broken.conflist',
      '20-alpha.conflist',
      '30-alpha-again.conflist',
      '99-last.conflist',
    ]);
    expect(confFiles(d, ['.conflist'])).toHaveLength(4);
    expect(confFiles(join(dir, 'missing'))).toEqual([]);
  });

  it('finds a network by name: the first .conflist, before single .conf files', () => {
    expect(loadConfList(d, 'alpha').cniVersion).toBe('1.0.0');
    expect(loadConfList(d, 'beta').plugins[0].network.type).toBe('bridge');
    const single = loadConfList(d, 'single');
    expect(single.plugins.map((p) => p.network.type)).toEqual(['ptp']);
    expect(single.cniVersion).toBe('0.3.1');
  });

  it('names the broken files when a network is not found', () => {
    expect(() => loadConfList(d, 'nope')).toThrow(/no net configuration with name "nope".*10-broken\.conflist/);
    expect(() => loadConfList(join(dir, 'empty'), 'x')).toThrow('no net configurations found');
  });

  it('picks the first valid file as the default network', () => {
    expect(loadDefaultConfList(d)?.name).toBe('single');
    const d2 = join(dir, 'net2.d');
    mkdirSync(d2);
    writeFileSync(join(d2, '00-bad.conf'), '{}');
    writeFileSync(join(d2, '01-bad.conflist'), JSON.stringify({ name: 'x', plugins: [] }));
    writeFileSync(join(d2, '02-good.conflist'), list({ name: 'good' }));
    expect(loadDefaultConfList(d2)?.name).toBe('good');
    expect(loadDefaultConfList(join(dir, 'missing'))).toBeUndefined();
  });

  it('appends <dir>/<name>/*.conf plugins unless loadOnlyInlinedPlugins', () => {
    const d3 = join(dir, 'net3.d');
    mkdirSync(join(d3, 'split'), { recursive: true });
    writeFileSync(join(d3, 'split.conflist'), JSON.stringify({ name: 'split', cniVersion: '1.1.0' }));
    writeFileSync(join(d3, 'split', '10-bridge.conf'), JSON.stringify({ type: 'bridge' }));
    writeFileSync(join(d3, 'split', '20-portmap.conf'), JSON.stringify({ type: 'portmap' }));
    writeFileSync(
      join(d3, 'inline.conflist'),
      JSON.stringify({ name: 'inline', loadOnlyInlinedPlugins: true, plugins: [{ type: 'loopback' }] }),
    );
    mkdirSync(join(d3, 'inline'));
    writeFileSync(join(d3, 'inline', '10-bridge.conf'), JSON.stringify({ type: 'bridge' }));
    expect(loadConfList(d3, 'split').plugins.map((p) => p.network.type)).toEqual(['bridge', 'portmap']);
    expect(loadConfList(d3, 'inline').plugins.map((p) => p.network.type)).toEqual(['loopback']);
  });
});
