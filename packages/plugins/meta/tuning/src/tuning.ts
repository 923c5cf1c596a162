import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import type { Link } from '@tscni/net/host';
import { failureReason } from '@tscni/net/host/command-error';
import { ipBatch } from '@tscni/net/host/ip';
import { getLink } from '@tscni/net/host/link';
import { netnsExists } from '@tscni/net/host/netns';
import { readSysctlsIn, writeSysctlsIn } from '@tscni/net/host/sysctl';
import { backupPath, linkCommands, originals, readBackup, removeBackup, wanted, writeBackup } from './backup';
import { changesLink, dataDirOf, parseTuning, type Tuning } from './config';
import { sameSysctlValue } from './sysctls';

/**
 * ADD: write the sysctls inside the pod netns (one `sysctl -w`) while the link is read (no sysctl changes a link
 * attribute a backup holds), back up the original values of the link attributes it is about to change, then
 * change them (one `ip -batch`). A failed change is undone from the backup. The result's interfaces named
 * CNI_IFNAME get the new MAC.
 */
async function add(args: CmdArgs): Promise<Result> {
  const t = parseTuning(args);
  const result = args.requirePrevResult('tuning');
  if (!netnsExists(args.netns)) throw new CniError(ErrorCode.InvalidNetNS, `failed to open netns "${args.netns}"`);

  const [sysctls, read] = await Promise.allSettled([
    t.sysctls.length
      ? writeSysctlsIn(args.netns, Object.fromEntries(t.sysctls.map((s) => [s.sysctlKey, s.value])))
      : undefined,
    changesLink(t) ? podLink(args) : undefined,
  ]);
  if (sysctls.status === 'rejected') throw new Error(`tuning: failed to set sysctls: ${reason(sysctls.reason)}`);
  if (read.status === 'rejected') throw read.reason;
  const link = read.value;
  if (link) {
    const file = backupPath(t.dataDir, args.containerID, args.ifName);
    const current = originals(link, t);
    // A repeated ADD keeps the values the first one saved: those are the real originals.
    const earlier = readBackup(file);
    writeBackup(file, { ...current, ...earlier });
    try {
      await ipBatch(linkCommands(args.ifName, wanted(t)), args.netns);
    } catch (err) {
      await ipBatch(linkCommands(args.ifName, current), args.netns, { force: true }).catch(() => {});
      if (earlier) writeBackup(file, earlier);
      else removeBackup(file);
      throw new Error(`tuning: failed to change ${args.ifName}: ${reason(err)}`);
    }
    if (t.mac) for (const i of result.interfaces ?? []) if (i.name === args.ifName) i.mac = t.mac;
  }
  return result;
}

/**
 * DEL: restore the backed-up attributes and remove the backup. Sysctls are not restored (the netns
 * goes away with them). Always succeeds: a missing netns, link or backup leaves nothing to do.
 */
async function del(args: CmdArgs): Promise<void> {
  // Only the backup's location matters here: a config ADD would reject (say, a sysctl the allowlist
  // has since dropped) must not keep DEL from restoring the link and removing the file.
  const dataDir = dataDirOf(args);
  if (dataDir === undefined) return;
  const file = backupPath(dataDir, args.containerID, args.ifName);
  const saved = readBackup(file);
  try {
    if (saved && args.netns && netnsExists(args.netns))
      await ipBatch(linkCommands(args.ifName, saved), args.netns, { force: true });
  } catch {
    /* the link may be gone already; DEL succeeds regardless, like the reference */
  } finally {
    removeBackup(file);
  }
}

/** CHECK: every configured sysctl (IFNAME keys resolved, unlike the reference) and link attribute has its value. */
async function check(args: CmdArgs): Promise<void> {
  const t = parseTuning(args);
  args.requirePrevResult('tuning');
  if (t.sysctls.length) {
    let current: string[];
    try {
      current = await readSysctlsIn(
        args.netns,
        t.sysctls.map((s) => s.sysctlKey),
      );
    } catch (err) {
      throw new Error(`tuning: failed to read sysctls: ${reason(err)}`);
    }
    t.sysctls.forEach((s, i) => {
      if (!sameSysctlValue(s.value, current[i] ?? ''))
        mismatch(`configured value of ${s.path} is ${s.value}, current value is ${current[i]}`);
    });
  }
  if (changesLink(t)) checkLink(await podLink(args), t, args.ifName);
}

function checkLink(link: Link, t: Tuning, ifName: string): void {
  if (t.mac && t.mac !== link.address?.toLowerCase())
    mismatch(`configured Ethernet of ${ifName} is ${t.mac}, current value is ${link.address}`);
  if (t.promisc && !link.flags.includes('PROMISC'))
    mismatch(`link ${ifName} configured promisc is true, current value is 0`);
  if (t.mtu && t.mtu !== link.mtu) mismatch(`configured MTU of ${ifName} is ${t.mtu}, current value is ${link.mtu}`);
  const allmulti = link.flags.includes('ALLMULTI');
  if (t.allmulti !== undefined && t.allmulti !== allmulti)
    mismatch(`configured all-multicast mode of ${ifName} is ${t.allmulti}, current value is ${allmulti}`);
  const txqlen = link.txqlen ?? 0;
  if (t.txQLen !== undefined && t.txQLen !== txqlen)
    mismatch(`configured transmit queue length of ${ifName} is ${t.txQLen}, current value is ${txqlen}`);
}

async function podLink(args: CmdArgs): Promise<Link> {
  const link = await getLink(args.ifName, args.netns);
  if (!link) throw new Error(`tuning: failed to get ${JSON.stringify(args.ifName)}: link not found in ${args.netns}`);
  return link;
}

const mismatch = (what: string): never => {
  throw new Error(`Error: Tuning ${what}`);
};

const reason = failureReason;

export const tuning: PluginFuncs = { add, del, check };
