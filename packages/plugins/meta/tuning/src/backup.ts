import { join } from '@tscni/cni/paths';
import { exists, readText } from '@tscni/cni/files';
import type { Link } from '@tscni/net/host';
import { removeStateFile, writeStateFile } from '@tscni/net/host/state-file';
import type { Tuning } from './config';

/**
 * The original values of the link attributes ADD changes, saved as `<dataDir>/<containerID>_<ifname>.json`
 * in the reference's format (so either implementation can restore the other's backup).
 */
export interface Backup {
  mac?: string;
  promisc?: boolean;
  mtu?: number;
  allmulti?: boolean;
  txQLen?: number;
}

/** Container IDs and interface names are validated by the skeleton: neither holds a `/`. */
export const backupPath = (dataDir: string, containerID: string, ifName: string): string =>
  join(dataDir, `${containerID}_${ifName}.json`);

/** The current values of exactly the attributes `t` changes (key order as the reference writes them). */
export function originals(link: Link, t: Tuning): Backup {
  return {
    ...(t.mac !== undefined ? { mac: link.address } : {}),
    ...(t.promisc !== undefined ? { promisc: link.flags.includes('PROMISC') } : {}),
    ...(t.mtu !== undefined ? { mtu: link.mtu } : {}),
    ...(t.allmulti !== undefined ? { allmulti: link.flags.includes('ALLMULTI') } : {}),
    ...(t.txQLen !== undefined ? { txQLen: link.txqlen ?? 0 } : {}),
  };
}

/** Written atomically (temp file + rename) so a crash never leaves half a backup. */
export const writeBackup = (file: string, backup: Backup): void =>
  writeStateFile(file, JSON.stringify(backup, null, 1));

/** The saved values, or undefined when there is no (readable) backup. */
export function readBackup(file: string): Backup | undefined {
  if (!exists(file)) return undefined;
  try {
    const raw = JSON.parse(readText(file)) as Record<string, unknown>;
    const backup: Backup = {
      mac: typeof raw.mac === 'string' && raw.mac ? raw.mac : undefined,
      promisc: typeof raw.promisc === 'boolean' ? raw.promisc : undefined,
      mtu: typeof raw.mtu === 'number' && raw.mtu > 0 ? raw.mtu : undefined,
      allmulti: typeof raw.allmulti === 'boolean' ? raw.allmulti : undefined,
      txQLen: typeof raw.txQLen === 'number' && raw.txQLen >= 0 ? raw.txQLen : undefined,
    };
    // Only the attributes present (spreading a backup over fresh values must not erase them).
    return Object.fromEntries(Object.entries(backup).filter(([, v]) => v !== undefined)) as Backup;
  } catch {
    return undefined;
  }
}

/** The backup and any temp file a writer killed before its rename left behind. */
export const removeBackup = (file: string): void => removeStateFile(file);

type Command = (string | number)[];
const onOff = (b: boolean): string => (b ? 'on' : 'off');

/** One `ip link set` per attribute (restores run them with -force, so one failure does not stop the rest). */
export function linkCommands(ifName: string, attrs: Backup): Command[] {
  const set = (...rest: Command): Command => ['link', 'set', 'dev', ifName, ...rest];
  return [
    ...(attrs.mtu !== undefined ? [set('mtu', attrs.mtu)] : []),
    ...(attrs.mac !== undefined ? [set('address', attrs.mac)] : []),
    ...(attrs.promisc !== undefined ? [set('promisc', onOff(attrs.promisc))] : []),
    ...(attrs.allmulti !== undefined ? [set('allmulticast', onOff(attrs.allmulti))] : []),
    ...(attrs.txQLen !== undefined ? [set('txqueuelen', attrs.txQLen)] : []),
  ];
}

/** The attributes `t` asks for, in the shape of a backup. */
export const wanted = (t: Tuning): Backup => ({
  mac: t.mac,
  promisc: t.promisc,
  mtu: t.mtu,
  allmulti: t.allmulti,
  txQLen: t.txQLen,
});
