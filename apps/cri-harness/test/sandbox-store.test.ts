import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PodSandboxConfig } from '../src/cri-types';
import { SandboxStore, type SandboxRecord } from '../src/sandbox-store';

const record = (id: string, name: string, attempt = 0): SandboxRecord => ({
  id,
  runtimeHandler: '',
  createdAt: '1',
  state: 'ready',
  config: { metadata: { name, namespace: 'default', uid: `u-${name}`, attempt } } as PodSandboxConfig,
});

describe('SandboxStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cri-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('persists records atomically and loads them back with their names reserved', () => {
    const store = new SandboxStore(dir);
    const a = record('a'.repeat(64), 'a');
    store.reserve(a);
    store.save(a);
    expect(readdirSync(join(dir, 'sandboxes'))).toEqual([`${a.id}.json`]);
    expect(JSON.parse(readFileSync(join(dir, 'sandboxes', `${a.id}.json`), 'utf8'))).toEqual(a);

    const broken: string[] = [];
    writeFileSync(join(dir, 'sandboxes', `${'b'.repeat(64)}.json`), '{"id":');
    const reloaded = new SandboxStore(dir);
    expect(reloaded.load((f) => broken.push(f)).map((r) => r.id)).toEqual([a.id]);
    expect(broken).toEqual([`${'b'.repeat(64)}.json`]);
    expect(() => reloaded.reserve(record('c'.repeat(64), 'a'))).toThrow(
      `failed to reserve sandbox name "a_default_u-a_0": name "a_default_u-a_0" is reserved for "${a.id}"`,
    );
    reloaded.reserve(record('c'.repeat(64), 'a', 1));
  });

  it('a save killed before its rename leaves a temp file that the next start-up removes, keeping the whole record', () => {
    const a = record('a'.repeat(64), 'a');
    new SandboxStore(dir).save(a);
    writeFileSync(join(dir, 'sandboxes', `${a.id}.json.tmp`), '{"id":"half');
    writeFileSync(join(dir, 'sandboxes', `${'b'.repeat(64)}.json.tmp`), '{');
    const loaded = new SandboxStore(dir).load(() => {
      throw new Error('no record is broken');
    });
    expect(loaded).toEqual([a]);
    expect(readdirSync(join(dir, 'sandboxes'))).toEqual([`${a.id}.json`]);
  });

  it('resolves full ids and unique prefixes; an ambiguous prefix is refused', () => {
    const store = new SandboxStore(dir);
    const ids = ['abc1'.padEnd(64, '0'), 'abc2'.padEnd(64, '0'), 'f'.repeat(64)];
    ids.forEach((id, i) => store.reserve(record(id, `p${i}`)));
    expect(store.get(ids[0]).id).toBe(ids[0]);
    expect(store.get('abc2').id).toBe(ids[1]);
    expect(store.get('f').id).toBe(ids[2]);
    expect(() => store.get('abc')).toThrow(expect.objectContaining({ code: status.INVALID_ARGUMENT }));
    expect(() => store.get('0')).toThrow(expect.objectContaining({ code: status.NOT_FOUND }));
    expect(() => store.get('')).toThrow(expect.objectContaining({ code: status.NOT_FOUND }));
  });

  it('commit writes the record like save, durably, and leaves no temp file', async () => {
    const store = new SandboxStore(dir);
    const a = record('a'.repeat(64), 'a');
    store.save(a);
    await store.commit({ ...a, state: 'notready' });
    expect(readdirSync(join(dir, 'sandboxes'))).toEqual([`${a.id}.json`]);
    expect(JSON.parse(readFileSync(join(dir, 'sandboxes', `${a.id}.json`), 'utf8'))).toEqual({
      ...a,
      state: 'notready',
    });
  });

  it('delete forgets the record and frees its name', () => {
    const store = new SandboxStore(dir);
    const a = record('a'.repeat(64), 'a');
    store.reserve(a);
    store.save(a);
    store.delete(a);
    expect(readdirSync(join(dir, 'sandboxes'))).toEqual([]);
    expect(store.find(a.id)).toBeUndefined();
    store.reserve(record('d'.repeat(64), 'a'));
  });
});
