import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { CniError, ErrorCode, interfaceNameProblem } from '@tscni/cni';
import type { NetworkAttachment, ResultJSON, RuntimeConf } from './types';

export const CNI_CACHE_V1 = 'cniCacheV1';
export const DEFAULT_CACHE_DIR = '/var/lib/cni';

/** libcni's on-disk record (`cachedInfo`); keys in libcni's order, empty optionals omitted like Go's omitempty. */
export interface CachedInfo {
  kind: typeof CNI_CACHE_V1;
  containerId: string;
  /** base64 of the list bytes the attachment was added with */
  config: string;
  ifName: string;
  networkName: string;
  netns?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: Record<string, unknown>;
  result?: ResultJSON;
}

const SAFE_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The result cache under `<cacheDir>/results/<network>-<containerID>-<ifname>`, shared with upstream libcni. */
export class ResultCache {
  constructor(readonly cacheDir: string = DEFAULT_CACHE_DIR) {}

  get resultsDir(): string {
    return join(this.cacheDir, 'results');
  }

  /** The entry's path; every part ends up in a file name, so each is checked first. */
  path(netName: string, rt: Pick<RuntimeConf, 'containerID' | 'ifName'>): string {
    if (!netName || !rt.containerID || !rt.ifName) {
      throw new CniError(
        ErrorCode.InvalidEnvironmentVariables,
        `cache file path requires network name (${JSON.stringify(netName)}), container ID (${JSON.stringify(rt.containerID)}), and interface name (${JSON.stringify(rt.ifName)})`,
      );
    }
    if (!SAFE_ID.test(netName))
      throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid characters found in network name', netName);
    if (!SAFE_ID.test(rt.containerID))
      throw new CniError(ErrorCode.InvalidEnvironmentVariables, 'invalid characters in containerID', rt.containerID);
    const ifProblem = interfaceNameProblem(rt.ifName);
    if (ifProblem) throw new CniError(ErrorCode.InvalidEnvironmentVariables, ifProblem, rt.ifName);
    return join(this.resultsDir, `${netName}-${rt.containerID}-${rt.ifName}`);
  }

  /**
   * Write the entry atomically (temp file + rename): a crash leaves the old entry or the new one, never half. The
   * temp file's fsync runs on the thread pool, so a runtime's other pods go on meanwhile.
   */
  async write(result: ResultJSON, config: Buffer, netName: string, rt: RuntimeConf): Promise<void> {
    const file = this.path(netName, rt);
    const info: CachedInfo = {
      kind: CNI_CACHE_V1,
      containerId: rt.containerID,
      config: config.toString('base64'),
      ifName: rt.ifName,
      networkName: netName,
      ...(rt.netNS ? { netns: rt.netNS } : {}),
      ...(rt.args?.length ? { cniArgs: rt.args } : {}),
      ...(rt.capabilityArgs && Object.keys(rt.capabilityArgs).length ? { capabilityArgs: rt.capabilityArgs } : {}),
      ...(Object.keys(result).length ? { result } : {}),
    };
    mkdirSync(this.resultsDir, { recursive: true, mode: 0o700 });
    // The temp file lives beside results/, not in it: readers listing results/ never see it.
    const tmp = join(this.cacheDir, `.${netName}-${rt.containerID}-${rt.ifName}.${process.pid}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(info));
      await fh.sync();
    } finally {
      await fh.close();
    }
    renameSync(tmp, file);
  }

  /** The raw entry, undefined when there is none; throws when the file is unreadable JSON. */
  read(
    netName: string,
    rt: Pick<RuntimeConf, 'containerID' | 'ifName'>,
  ): { info?: CachedInfo; legacyResult?: ResultJSON } | undefined {
    let text: string;
    try {
      text = readFileSync(this.path(netName, rt), 'utf8');
    } catch (e) {
      if (e instanceof CniError) throw e;
      return undefined; // a missing entry is not an error (libcni ignores read errors)
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new CniError(
        ErrorCode.DecodingFailure,
        `failed to unmarshal cached network "${netName}": ${(e as Error).message}`,
      );
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new CniError(ErrorCode.DecodingFailure, `cached network "${netName}" is not a JSON object`);
    const obj = raw as Record<string, unknown>;
    // The legacy format is a bare result.
    return obj.kind === CNI_CACHE_V1 ? { info: obj as unknown as CachedInfo } : { legacyResult: obj };
  }

  /** The entry, and the temp files of writers of it that were killed before their rename. */
  delete(netName: string, rt: Pick<RuntimeConf, 'containerID' | 'ifName'>): void {
    try {
      rmSync(this.path(netName, rt), { force: true });
    } catch {
      return; /* an unusable path has no entry to delete */
    }
    const prefix = `.${netName}-${rt.containerID}-${rt.ifName}.`;
    let names: string[] = [];
    try {
      names = readdirSync(this.cacheDir).filter((n) => n.startsWith(prefix) && n.endsWith('.tmp'));
    } catch {
      /* no cache dir */
    }
    for (const name of names) {
      const pid = Number(name.slice(prefix.length, -'.tmp'.length));
      if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) rmSync(join(this.cacheDir, name), { force: true });
    }
  }

  /** Every cniCacheV1 entry, in file-name order, optionally only one container's (libcni `GetCachedAttachments`). */
  attachments(containerID = ''): NetworkAttachment[] {
    let names: string[];
    try {
      names = readdirSync(this.resultsDir).sort();
    } catch {
      return [];
    }
    const out: NetworkAttachment[] = [];
    for (const name of names) {
      if (containerID) {
        const pos = name.indexOf(`-${containerID}-`);
        if (pos <= 0 || pos + containerID.length + 2 >= name.length) continue;
      }
      let info: CachedInfo;
      try {
        info = JSON.parse(readFileSync(join(this.resultsDir, name), 'utf8')) as CachedInfo;
      } catch {
        continue;
      }
      if (info?.kind !== CNI_CACHE_V1 || !info.ifName || !info.networkName) continue;
      if (containerID && info.containerId !== containerID) continue;
      out.push({
        containerID: info.containerId,
        network: info.networkName,
        ifName: info.ifName,
        config: Buffer.from(info.config ?? '', 'base64'),
        ...(info.netns ? { netNS: info.netns } : {}),
        ...(info.cniArgs ? { cniArgs: info.cniArgs } : {}),
        ...(info.capabilityArgs ? { capabilityArgs: info.capabilityArgs } : {}),
      });
    }
    return out;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
