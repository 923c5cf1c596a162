import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { ipBatch, isNotFound } from '@tscni/net/host/ip';
import { jsonArray } from '@tscni/net/host/ip-json';
import { getLink, isUp } from '@tscni/net/host/link';
import { useIpInProcess } from '@tscni/net/host/ip-in-process';

// `ip` over rtnetlink in this process (under Bun: the plugin's executable, the CRI harness).
useIpInProcess();

interface LoAddrs {
  flags: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** ADD: `lo` up; the result reports lo's loopback addresses, or passes prevResult through. */
async function add(args: CmdArgs): Promise<Result> {
  const out = await ipBatch(
    [
      ['link', 'set', 'dev', 'lo', 'up'],
      ['addr', 'show', 'dev', 'lo'],
    ],
    args.netns,
    { json: true },
  );
  const lo = jsonArray<LoAddrs>(out)[0];
  const prev = args.prevResult();
  if (prev) return prev;
  const ips = (lo?.addr_info ?? []).map((a) => {
    if (!isLoopbackAddress(a.local)) throw new Error(`loopback interface found with non-loopback address "${a.local}"`);
    return { address: `${a.local}/${a.prefixlen}`, interface: 0 };
  });
  return {
    cniVersion: args.netConf.cniVersion,
    interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: args.netns }],
    ips,
  };
}

/** DEL: `lo` down; a namespace that is already gone is success (`ip` says so: no check beforehand). */
async function del(args: CmdArgs): Promise<void> {
  if (!args.netns) return;
  try {
    await ipBatch([['link', 'set', 'dev', 'lo', 'down']], args.netns);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

async function check(args: CmdArgs): Promise<void> {
  const lo = await getLink('lo', args.netns);
  if (!lo || !isUp(lo)) throw new Error('loopback interface is down');
}

const isLoopbackAddress = (ip: string): boolean => ip.startsWith('127.') || ip === '::1';

export const loopback: PluginFuncs = { add, del, check, status: () => {} };
