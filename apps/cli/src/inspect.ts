import { scanConfDir, loadConfList, type ConfDirEntry } from '@tscni/libcni';
import type { Context, Output } from './commands';

interface Verdict {
  file: string;
  network?: string;
  cniVersion?: string;
  problems: string[];
  capabilities: string[];
}

/**
 * `validate [<net>]`: parse every list (or the named one), then libcni's checks (binaries in CNI_PATH,
 * VERSION support), plus names shadowed by an earlier file. One line per problem; exit 1 if any.
 */
export async function validate(ctx: Context): Promise<Output> {
  const [net] = ctx.args.positional;
  let entries = scanConfDir(ctx.env.netConfPath);
  if (net) {
    entries = entries.filter((e) => e.list?.name === net);
    if (entries.length === 0) loadConfList(ctx.env.netConfPath, net); // throws the not-found error, naming broken files
  }
  const firstFile = new Map<string, string>();
  const verdicts: Verdict[] = [];
  for (const entry of entries) {
    if (!entry.list) {
      verdicts.push({ file: entry.file, problems: [entry.error ?? 'unreadable'], capabilities: [] });
      continue;
    }
    const { problems, capabilities } = await ctx.cni.findProblems(entry.list, ctx.signal);
    const earlier = firstFile.get(entry.list.name);
    if (earlier)
      problems.push(
        `network name "${entry.list.name}" is already defined by ${earlier}, which wins: rename one of them`,
      );
    else firstFile.set(entry.list.name, entry.file);
    verdicts.push({
      file: entry.file,
      network: entry.list.name,
      cniVersion: entry.list.cniVersion,
      problems,
      capabilities,
    });
  }
  const failed = verdicts.some((v) => v.problems.length);
  if (ctx.args.json) return { stdout: [JSON.stringify(verdicts)], exitCode: failed ? 1 : 0 };
  if (verdicts.length === 0) return { stdout: [`no network configurations in ${ctx.env.netConfPath}`], exitCode: 1 };
  const lines = verdicts.flatMap((v) =>
    v.problems.length
      ? v.problems.map((p) => `${v.file}: ${v.network ? `network "${v.network}": ` : ''}${p}`)
      : [
          `${v.file}: network "${v.network}" ok (cniVersion ${v.cniVersion}${v.capabilities.length ? `, capabilities ${v.capabilities.join(', ')}` : ''})`,
        ],
  );
  return { stdout: lines, exitCode: failed ? 1 : 0 };
}

/** `ls`: the networks NETCONFPATH holds (the default one first valid file) and the cached attachments. */
export async function ls(ctx: Context): Promise<Output> {
  const entries: ConfDirEntry[] = scanConfDir(ctx.env.netConfPath);
  const defaultFile = entries.find((e) => e.list)?.file;
  const networks = entries.map((e) =>
    e.list
      ? {
          file: e.file,
          name: e.list.name,
          cniVersion: e.list.cniVersion,
          plugins: e.list.plugins.map((p) => p.network.type),
          default: e.file === defaultFile,
        }
      : { file: e.file, error: e.error },
  );
  const attachments = (await ctx.cni.getCachedAttachments()).map((a) => ({
    network: a.network,
    containerID: a.containerID,
    ifName: a.ifName,
    netns: a.netNS ?? '',
  }));
  if (ctx.args.json) return { stdout: [JSON.stringify({ networks, attachments })], exitCode: 0 };
  const lines = [`networks in ${ctx.env.netConfPath}:`];
  if (networks.length === 0) lines.push('  (none)');
  for (const n of networks) {
    if ('error' in n) lines.push(`  ${n.file}: unusable: ${n.error}`);
    else
      lines.push(
        `  ${n.name}${n.default ? ' (default)' : ''}  cniVersion ${n.cniVersion}  plugins ${n.plugins.join(',')}  ${n.file}`,
      );
  }
  lines.push('cached attachments:');
  if (attachments.length === 0) lines.push('  (none)');
  for (const a of attachments) lines.push(`  ${a.network}  ${a.containerID}  ${a.ifName}  ${a.netns}`);
  return { stdout: lines, exitCode: 0 };
}
