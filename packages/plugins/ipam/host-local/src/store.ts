import { join } from '@tscni/cni/paths';
import { link, lstat, mkdirp, readDir, readText, rename, unlink, writeNewText } from '@tscni/cni/files';
import type { IP } from '@tscni/net/host';
import { formatIP, parseIP } from '@tscni/net/host/ipaddr';
import { randomHex8 } from '@tscni/net/host/names';
import { withFileLock } from '@tscni/net/host/lock';

/**
 * The reference's on-disk lease store, byte for byte, so a node can switch between our binary and
 * /usr/lib/cni/host-local: `<dataDir>/<network>/<ip>` holds `<containerID>\r\n<ifname>`,
 * `last_reserved_ip.<rangeSetIndex>` the last address handed out, `lock` is flocked around every change.
 *
 * Unlike the reference (create O_EXCL, then write), a lease is written to a temp file and hard-linked
 * into place: link(2) fails with EEXIST exactly like O_EXCL, and a process killed at any point leaves
 * either no lease or a complete one. Temp files only ever exist under the lock, so any found while
 * holding it belong to a killed process and are removed.
 */
export interface Lease {
  ip: IP;
  /** The file name (the address as the reference prints it). */
  file: string;
  /** Trimmed content: `cid\r\nifname`, or a bare `cid` from very old versions. */
  owner: string;
}

const LAST_RESERVED = 'last_reserved_ip.';
const TEMP_PREFIX = '.tscni-tmp-';

export const leaseOwner = (containerID: string, ifName: string): string => `${containerID.trim()}\r\n${ifName}`;

export class LeaseStore {
  readonly dir: string;

  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network);
  }

  /** True when the network's directory exists (and is a real directory, not a symlink out of the data dir). */
  exists(): boolean {
    try {
      const st = lstat(this.dir);
      if (!st.isDirectory()) throw new Error(`${this.dir} is not a directory`);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Run `fn` holding the network's flock (the directory is created first, mode 0755 like the reference). */
  async locked<T>(fn: () => T | Promise<T>): Promise<T> {
    if (!this.exists()) mkdirp(this.dir, 0o755);
    return withFileLock(join(this.dir, 'lock'), async () => {
      this.removeTempFiles();
      return fn();
    });
  }

  /** Every lease file of the network (files named by an address; anything else is ignored). */
  list(): Lease[] {
    let names: string[];
    try {
      names = readDir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const leases: Lease[] = [];
    for (const file of names) {
      const ip = parseIP(file);
      if (!ip) continue;
      const owner = this.readRegular(file);
      if (owner !== undefined) leases.push({ ip, file, owner: owner.trim() });
    }
    return leases;
  }

  /** Create the lease for `ip` unless it exists; records it as the range set's last reserved address. */
  reserve(ip: IP, owner: string, rangeID: number): boolean {
    const file = formatIP(ip);
    if (!this.createExclusive(file, owner)) return false;
    this.replace(`${LAST_RESERVED}${rangeID}`, file);
    return true;
  }

  release(lease: Lease): void {
    try {
      unlink(join(this.dir, lease.file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  lastReserved(rangeID: number): IP | undefined {
    const text = this.readRegular(`${LAST_RESERVED}${rangeID}`);
    return text === undefined ? undefined : parseIP(text.trim());
  }

  /** Content of a regular file in the directory, undefined when missing or not a regular file. */
  private readRegular(file: string): string | undefined {
    const path = join(this.dir, file);
    try {
      if (!lstat(path).isFile()) return undefined;
      return readText(path);
    } catch {
      return undefined;
    }
  }

  private writeTemp(content: string): string {
    const tmp = join(this.dir, `${TEMP_PREFIX}${process.pid}-${randomHex8()}`);
    writeNewText(tmp, content, 0o600);
    return tmp;
  }

  /** O_EXCL semantics with complete content: write a temp file, link it to `file`, drop the temp name. */
  private createExclusive(file: string, content: string): boolean {
    const tmp = this.writeTemp(content);
    try {
      link(tmp, join(this.dir, file));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      unlink(tmp);
    }
  }

  /** Atomically replace `file` (rename over it). */
  private replace(file: string, content: string): void {
    const tmp = this.writeTemp(content);
    try {
      rename(tmp, join(this.dir, file));
    } catch (err) {
      unlink(tmp);
      throw err;
    }
  }

  private removeTempFiles(): void {
    for (const name of readDir(this.dir)) {
      if (name.startsWith(TEMP_PREFIX)) {
        try {
          unlink(join(this.dir, name));
        } catch {
          /* already gone */
        }
      }
    }
  }
}
