/**
 * Which backend wrote an attachment's masquerade, when it was nftables: `<dir>/<network>/<containerID>:<ifName>` holds
 * `{"backend":"nftables"}`. The ADD writes it before the rules (so a crash leaves a file that DEL or GC removes); DEL
 * and CHECK then touch nftables only; DEL removes the file once the rules are gone, GC the files of attachments that
 * are not valid. No file — an iptables ADD (the default: its DEL's blind restore of the prevResult's rules already
 * skips nft, so a record would only cost the ADD), an ADD by an older version or by the reference, a crash before the
 * write, a name too long for a file — means both backends, as before. A record naming iptables is read the same way.
 * The directory is tmpfs (`/run`), like the rules it describes: neither outlives a reboot.
 */
import { exists, readDir, readText, removeDir } from '@tscni/cni/files';
import { dirname, isAbsolute, join } from '@tscni/cni/paths';
import { removeStateFile, writeStateFile } from '../host/state-file';
import type { IpMasqBackendName, MasqOwner } from './ipmasq';

export const DEFAULT_IPMASQ_STATE_DIR = '/run/cni/ipmasq';

/** The state directory: `TSCNI_IPMASQ_STATE_DIR` (tests, non-standard nodes) or /run/cni/ipmasq. */
export const ipMasqStateDir = (env: NodeJS.ProcessEnv): string =>
  env.TSCNI_IPMASQ_STATE_DIR || DEFAULT_IPMASQ_STATE_DIR;

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** A file name and the `.tmp-<pid>` of its writer within NAME_MAX (255). */
const NAME_MAX = 240;

/** The attachment's file in `dir`, or undefined when its name would not fit one. Throws on a name that is no ID. */
export function masqStatePath(dir: string, owner: MasqOwner): string | undefined {
  if (!isAbsolute(dir)) throw new Error(`ipMasq: state directory ${JSON.stringify(dir)} is not an absolute path`);
  for (const what of ['network', 'containerID'] as const)
    if (!ID.test(owner[what])) throw new Error(`ipMasq: invalid ${what} ${JSON.stringify(owner[what])}`);
  const ifName = owner.ifName;
  // `:` separates the two: no container ID holds one, and no interface name may (nor `/`, nor be `.` or `..`).
  if (!ifName || ifName === '.' || ifName === '..' || /[/:\0]/.test(ifName))
    throw new Error(`ipMasq: invalid ifName ${JSON.stringify(ifName)}`);
  // In UTF-8 an ID's character is one byte, a UTF-16 unit at most three.
  if (owner.network.length > NAME_MAX || owner.containerID.length + 1 + 3 * ifName.length > NAME_MAX) return undefined;
  return join(dir, owner.network, `${owner.containerID}:${ifName}`);
}

/** The backend recorded in `file`; undefined when there is none (or it is unreadable or unknown). */
export function recordedBackend(file: string | undefined): IpMasqBackendName | undefined {
  if (!file || !exists(file)) return undefined; // (no exception: the first one thrown costs a Bun call ≈ 0.4 ms)
  let text: string;
  try {
    text = readText(file);
  } catch {
    return undefined;
  }
  try {
    const backend = (JSON.parse(text) as { backend?: unknown })?.backend;
    return backend === 'iptables' || backend === 'nftables' ? backend : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Before an ADD writes its rules: record nftables (iptables gets no record). When the attachment already has a record
 * of the other backend (a repeated ADD under a changed config), the record goes instead: its rules may be in both now,
 * and no file means both. A file that cannot be written is no record either (only a stale one is an error: it would
 * name the wrong backend).
 */
export function recordBackend(file: string | undefined, backend: IpMasqBackendName): void {
  if (!file) return;
  const before = recordedBackend(file);
  if (before === backend) return;
  if (before) return removeStateFile(file);
  if (backend !== 'nftables') return;
  for (let attempt = 1; ; attempt++)
    try {
      return writeStateFile(file, JSON.stringify({ backend }) + '\n');
    } catch (err) {
      // ENOENT: the network's last DEL removed the directory after this write made it; once more makes it again.
      if (attempt === 1 && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      return removeStateFile(file);
    }
}

/**
 * After the rules are gone: the record, any temp file of a writer that died before its rename, and the network's
 * directory once it is empty.
 */
export function forgetBackend(file: string | undefined): void {
  if (!file || !exists(file)) return; // (a dead writer's temp file without a record: GC's)
  removeStateFile(file);
  try {
    removeDir(dirname(file));
  } catch {
    /* other attachments' records (ENOTEMPTY), or gone already */
  }
}

/** GC: the records of `network` whose attachment is not in `valid` (then the network's directory, if empty). */
export function gcBackendRecords(
  dir: string,
  network: string,
  valid: readonly { containerID: string; ifname: string }[],
): void {
  if (!isAbsolute(dir) || !ID.test(network)) return;
  const netDir = join(dir, network);
  let names: string[];
  try {
    names = readDir(netDir);
  } catch {
    return; // no records
  }
  const keep = new Set(valid.map((a) => `${a.containerID}:${a.ifname}`));
  for (const base of new Set(names.map((n) => n.replace(/\.tmp-\d+$/, ''))))
    if (!keep.has(base)) removeStateFile(join(netDir, base));
  try {
    removeDir(netDir);
  } catch {
    /* not empty: valid attachments' records, or a writer's temp file */
  }
}
