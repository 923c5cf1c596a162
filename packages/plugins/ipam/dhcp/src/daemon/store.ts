import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LeaseRecord } from './lease';

/** Leases on disk, one JSON file per client ID (named by its hash), written atomically. */
export class LeaseStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private file(clientID: string): string {
    return join(this.dir, `${createHash('sha256').update(clientID).digest('hex').slice(0, 32)}.json`);
  }

  save(rec: LeaseRecord): void {
    const file = this.file(rec.req.clientID);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(rec), { mode: 0o600 });
    renameSync(tmp, file);
  }

  remove(clientID: string): void {
    rmSync(this.file(clientID), { force: true });
  }

  /** Every readable record; unreadable files are dropped. */
  load(): LeaseRecord[] {
    const out: LeaseRecord[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as LeaseRecord);
      } catch {
        rmSync(join(this.dir, name), { force: true });
      }
    }
    return out;
  }
}
