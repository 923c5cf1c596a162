import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { PodSandboxConfig } from './cri-types';
import { CriError, notFound } from './cri-error';
import { status } from '@grpc/grpc-js';

/** A pod sandbox as the harness remembers it across restarts. */
export interface SandboxRecord {
  /** 64 hex digits, like containerd's. */
  id: string;
  config: PodSandboxConfig;
  runtimeHandler: string;
  /** Unix nanoseconds as a decimal string. */
  createdAt: string;
  /** `creating` until RunPodSandbox finishes: a record left in that state by a crash is rolled back at start-up. */
  state: 'creating' | 'ready' | 'notready';
  /** The pinned netns (absent for `network: NODE`); recorded before it is created so a crash cannot orphan it. */
  netns?: string;
  netnsRemoved?: boolean;
  /** The pause process holding the pod's UTS and IPC namespaces; `startTime` tells it from a reused pid. */
  pause?: { pid: number; startTime: string };
  /** The networks ADDed (config bytes as used, so DEL sees the same config) and what they returned. */
  network?: PodNetworkRecord;
}

export interface PodNetworkRecord {
  /** The pod network's conflist JSON exactly as ADD used it. */
  confList: string;
  /** True once ADD was started: from then on teardown must run DEL until it succeeds. */
  attached: boolean;
  result?: unknown;
  ip?: string;
  additionalIps?: string[];
}

/** `name_namespace_uid_attempt`: the key containerd reserves so the same pod cannot be run twice. */
export const reservationKey = (c: PodSandboxConfig): string => {
  const m = c.metadata!;
  return `${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
};

/** In-memory index of the records, each one persisted atomically as `<stateDir>/sandboxes/<id>.json`. */
export class SandboxStore {
  private readonly records = new Map<string, SandboxRecord>();
  private readonly names = new Map<string, string>();
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'sandboxes');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Read every record from disk (start-up); unreadable files are reported, not fatal. */
  load(onBroken: (file: string, why: string) => void): SandboxRecord[] {
    for (const file of readdirSync(this.dir)) {
      // A save killed before its rename: the record it was replacing (if any) is still whole beside it.
      if (/^[0-9a-f]{64}\.json\.tmp$/.test(file)) rmSync(join(this.dir, file), { force: true });
      if (!/^[0-9a-f]{64}\.json$/.test(file)) continue;
      try {
        const rec = JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as SandboxRecord;
        this.records.set(rec.id, rec);
        this.names.set(reservationKey(rec.config), rec.id);
      } catch (e) {
        onBroken(file, (e as Error).message);
      }
    }
    return this.list();
  }

  list(): SandboxRecord[] {
    return [...this.records.values()];
  }

  /** Reserve the pod's name for `id`, or refuse as containerd does. */
  reserve(rec: SandboxRecord): void {
    const key = reservationKey(rec.config);
    const owner = this.names.get(key);
    if (owner !== undefined)
      throw new CriError(
        status.ALREADY_EXISTS,
        `failed to reserve sandbox name "${key}": name "${key}" is reserved for "${owner}"`,
      );
    this.names.set(key, rec.id);
    this.records.set(rec.id, rec);
  }

  /**
   * Persist `rec` atomically (temp file, rename): a kill -9 at any point leaves the previous record or this one
   * whole (the page cache outlives the process). Not fsynced: `commit` is (RunPodSandbox ends with it).
   */
  save(rec: SandboxRecord): void {
    const file = this.file(rec);
    writeFileSync(`${file}.tmp`, JSON.stringify(rec), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  /** `save`, durably: the temp file is fsynced before its rename and the directory after it. */
  async commit(rec: SandboxRecord): Promise<void> {
    const file = this.file(rec);
    writeFileSync(`${file}.tmp`, JSON.stringify(rec), { mode: 0o600 });
    await fsync(`${file}.tmp`);
    renameSync(`${file}.tmp`, file);
    await fsync(this.dir);
  }

  /** Forget `rec` on disk and in memory, releasing its name. */
  delete(rec: SandboxRecord): void {
    rmSync(this.file(rec), { force: true });
    this.records.delete(rec.id);
    const key = reservationKey(rec.config);
    if (this.names.get(key) === rec.id) this.names.delete(key);
  }

  private file(rec: SandboxRecord): string {
    return join(this.dir, `${rec.id}.json`);
  }

  /** A full id or a unique prefix of one (crictl passes what the user typed: usually the 13-char prefix). */
  find(idOrPrefix: string): SandboxRecord | undefined {
    if (!idOrPrefix) return undefined;
    const exact = this.records.get(idOrPrefix);
    if (exact) return exact;
    const matches = this.list().filter((r) => r.id.startsWith(idOrPrefix));
    if (matches.length > 1)
      throw new CriError(
        status.INVALID_ARGUMENT,
        `sandbox id prefix "${idOrPrefix}" is ambiguous: it matches ${matches.length} sandboxes`,
      );
    return matches[0];
  }

  /** Like find, but NOT_FOUND when there is no such sandbox. */
  get(idOrPrefix: string): SandboxRecord {
    const rec = this.find(idOrPrefix);
    if (!rec) throw notFound(idOrPrefix);
    return rec;
  }
}

/** fsync a file or directory through the thread pool (the event loop keeps serving other pods meanwhile). */
async function fsync(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
