/**
 * The iptables backend (the rules: ./iptables-rules). ADD and DEL first try one `iptables-restore` per family that
 * reads nothing: the script asserts, inside its own transaction, the state it was written for (see
 * `forwardScript`, `unforwardScript`). iptables-restore commits all or nothing, so a script that succeeds did what
 * the read-then-write path would have done, and one that fails changed nothing and that path follows — under the
 * rules lock, as before, with its results and errors.
 */
import type { CIDR } from '@tscni/net/host';
import { withFileLock } from '@tscni/net/host/lock';
import type { IPFamily } from '@tscni/net/netfilter';
import { iptablesRestore, iptablesSave, savedChains } from '@tscni/net/netfilter/iptables';
import {
  declareMissing,
  hasSavedRule,
  restoreTable,
  RULES_LOCK_PATH,
  rulesJumpingTo,
  savedComment,
} from '@tscni/net/netfilter/iptables-script';
import type { PortMapper } from './backend';
import type { PortMapConf, PortMapping } from './config';
import {
  containerLines,
  dnatChainName,
  dnatRules,
  entryRules,
  MASQ,
  MASQ_ENTRY,
  masqRule,
  OLD_TOP_SNAT,
  oldSnatChainName,
  SETMARK,
  setMarkRule,
  TOP_DNAT,
  TOP_ENTRY,
  usesOwnMark,
} from './iptables-rules';

/**
 * ADD of one family without a read, for the steady state: the shared chains and their jumps are there (`-C` fails
 * the transaction otherwise) and the container has no chain yet (`-N` fails on a repeated ADD, and without the
 * chain no rule can jump to it, so there is no old entry rule to replace).
 */
export function forwardScript(conf: PortMapConf, container: CIDR): string {
  const lines = ['PREROUTING', 'OUTPUT'].map((chain) => `-C ${chain} ${TOP_ENTRY}`);
  if (usesOwnMark(conf))
    lines.push(
      `-C ${SETMARK} ${setMarkRule(conf.markMasqBit)}`,
      `-C ${MASQ} ${masqRule(conf.markMasqBit)}`,
      `-C POSTROUTING ${MASQ_ENTRY}`,
    );
  lines.push(`-N ${dnatChainName(conf.netName, conf.containerID)}`, ...containerLines(conf, container));
  return restoreTable('nat', lines);
}

/**
 * DEL of one family without a read: the entry rules ADD wrote for these mappings deleted (`-D` fails when one is
 * missing), then the container's chain and the legacy CNI-SN chain declared (created when missing, flushed when
 * not) and deleted — `-X` fails while any rule still jumps to the chain, so success means nothing of the
 * attachment is left, exactly what the read path's teardown leaves.
 */
export function unforwardScript(conf: PortMapConf, mappings: readonly PortMapping[], family: IPFamily): string {
  const dnat = dnatChainName(conf.netName, conf.containerID);
  const oldSnat = oldSnatChainName(conf.netName, conf.containerID);
  return restoreTable('nat', [
    `:${dnat} - [0:0]`,
    `:${oldSnat} - [0:0]`,
    ...entryRules(conf, mappings, family).map((rule) => `-D ${TOP_DNAT} ${rule} -j ${dnat}`),
    `-X ${dnat}`,
    `-X ${oldSnat}`,
  ]);
}

/** Whether the script (built lazily: building can throw too) was applied. */
const applied = (family: IPFamily, script: () => string): Promise<boolean> =>
  Promise.resolve()
    .then(() => iptablesRestore(family, script()))
    .then(
      () => true,
      () => false,
    );

/** ADD: each family's read-free script side by side; the families it could not do, read then written under the lock. */
async function forward(conf: PortMapConf, containers: readonly CIDR[]): Promise<void> {
  const done = await Promise.all(containers.map((c) => applied(c.ip.family, () => forwardScript(conf, c))));
  const rest = containers.filter((_, i) => !done[i]);
  if (rest.length)
    await withFileLock(RULES_LOCK_PATH, async () => {
      for (const c of rest) await forwardPorts(conf, c);
    });
}

/**
 * DEL: with the families ADD wrote (from the cached prevResult) and valid mappings, each family's read-free script;
 * otherwise, or when one fails, every family read and torn down under the lock.
 */
async function unforward(conf: PortMapConf, families?: readonly IPFamily[]): Promise<void> {
  const mappings = families?.length && conf.mappingsValid ? conf.mappings : undefined;
  if (families && mappings) {
    const done = await Promise.all(families.map((f) => applied(f, () => unforwardScript(conf, mappings, f))));
    if (done.every(Boolean)) return;
  }
  await withFileLock(RULES_LOCK_PATH, () => unforwardPorts(conf));
}

/** ADD for one address family, read then written: shared chains ensured, the container's chain written fresh. */
export async function forwardPorts(conf: PortMapConf, container: CIDR): Promise<void> {
  const family = container.ip.family;
  const saved = await iptablesSave(family, 'nat');
  const dnat = dnatChainName(conf.netName, conf.containerID);
  const lines: string[] = [];
  const useOwnMark = usesOwnMark(conf);
  lines.push(...declareMissing(saved, [TOP_DNAT, ...(useOwnMark ? [SETMARK, MASQ] : [])]));
  if (useOwnMark) {
    if (!hasSavedRule(saved, SETMARK, setMarkRule(conf.markMasqBit)))
      lines.push(`-A ${SETMARK} ${setMarkRule(conf.markMasqBit)}`);
    if (!hasSavedRule(saved, MASQ, masqRule(conf.markMasqBit))) lines.push(`-A ${MASQ} ${masqRule(conf.markMasqBit)}`);
    if (!hasSavedRule(saved, 'POSTROUTING', MASQ_ENTRY)) lines.push(`-I POSTROUTING 1 ${MASQ_ENTRY}`);
  }
  for (const chain of ['PREROUTING', 'OUTPUT'])
    if (!hasSavedRule(saved, chain, TOP_ENTRY)) lines.push(`-A ${chain} ${TOP_ENTRY}`);
  // Replace the container's chain and its entry rules in one go (a re-ADD leaves no stale rule).
  for (const old of rulesJumpingTo(saved, TOP_DNAT, dnat)) lines.push(`-D ${TOP_DNAT} ${old}`);
  lines.push(`:${dnat} - [0:0]`, ...containerLines(conf, container));
  await iptablesRestore(family, restoreTable('nat', lines));
}

/** DEL read then written: the container's chain (and the legacy CNI-SN chain) with every rule pointing at it, in both families. */
export async function unforwardPorts(conf: Pick<PortMapConf, 'netName' | 'containerID'>): Promise<void> {
  const failures: string[] = [];
  for (const family of [4, 6] as const) {
    try {
      await teardownChains(family, [
        [TOP_DNAT, dnatChainName(conf.netName, conf.containerID)],
        [OLD_TOP_SNAT, oldSnatChainName(conf.netName, conf.containerID)],
      ]);
    } catch (err) {
      failures.push(`(ip${family === 6 ? '6' : ''}tables) ${(err as Error).message}`);
    }
  }
  // Like the reference: a family whose iptables is unusable is skipped, but not both.
  if (failures.length === 2) throw new Error(`neither iptables nor ip6tables usable: ${failures.join(', ')}`);
}

async function teardownChains(
  family: IPFamily,
  chains: [entryChain: string, chain: string][],
  saved?: string,
): Promise<void> {
  saved ??= await iptablesSave(family, 'nat');
  const have = savedChains(saved);
  const lines: string[] = [];
  for (const [entry, chain] of chains) {
    for (const rule of rulesJumpingTo(saved, entry, chain)) lines.push(`-D ${entry} ${rule}`);
    if (have.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
  }
  if (lines.length) await iptablesRestore(family, restoreTable('nat', lines));
}

/** CHECK for one family: the container chain holds exactly the expected rules and is reachable. */
export async function checkPorts(conf: PortMapConf, container: CIDR): Promise<void> {
  const family = container.ip.family;
  const saved = await iptablesSave(family, 'nat');
  const dnat = dnatChainName(conf.netName, conf.containerID);
  if (!savedChains(saved).has(dnat)) throw new Error(`chain ${dnat} not found in iptables table nat`);
  for (const rule of dnatRules(conf, container)) {
    if (!hasSavedRule(saved, dnat, rule)) throw new Error(`rule "${rule}" in chain ${dnat} not found in table nat`);
  }
  const entries = rulesJumpingTo(saved, TOP_DNAT, dnat);
  for (const expected of entryRules(conf, conf.mappings, family)) {
    const ports = /--dports (\S+)/.exec(expected)![1];
    const proto = /^-p (\S+)/.exec(expected)![1];
    if (!entries.some((e) => e.startsWith(`-p ${proto} `) && e.includes(`--dports ${ports} `))) {
      throw new Error(`entry rule for ${proto} ports ${ports} to ${dnat} not found in chain ${TOP_DNAT}`);
    }
  }
  for (const chain of ['PREROUTING', 'OUTPUT']) {
    if (!hasSavedRule(saved, chain, TOP_ENTRY)) throw new Error(`rule "${TOP_ENTRY}" not found in chain ${chain}`);
  }
}

/**
 * GC: tear down the chains of this network's attachments that are no longer valid (comment names net and id).
 * A teardown that fails is tried once more on a fresh read: a DEL that takes no lock (ours without a read, the
 * reference's) may have removed some of the same rules between the read and the write.
 */
export async function gcPorts(netName: string, validIDs: Set<string>): Promise<void> {
  for (const family of [4, 6] as const) {
    for (let attempt = 1; ; attempt++) {
      let saved: string;
      try {
        saved = await iptablesSave(family, 'nat');
      } catch {
        break;
      }
      const stale = staleIDs(saved, netName, validIDs);
      if (!stale.size) break;
      try {
        await teardownChains(
          family,
          [...stale].flatMap((id) => [
            [TOP_DNAT, dnatChainName(netName, id)] as [string, string],
            [OLD_TOP_SNAT, oldSnatChainName(netName, id)] as [string, string],
          ]),
          saved,
        );
        break;
      } catch (err) {
        if (attempt === 2) throw err;
      }
    }
  }
}

/** Container IDs of this network's entry rules in CNI-HOSTPORT-DNAT that are not valid attachments. */
function staleIDs(saved: string, netName: string, validIDs: Set<string>): Set<string> {
  const stale = new Set<string>();
  for (const line of saved.split('\n')) {
    if (!line.startsWith(`-A ${TOP_DNAT} `)) continue;
    const m = /^dnat name: "(.*)" id: "(.*)"$/.exec(savedComment(line) ?? '');
    if (!m || m[1] !== netName || validIDs.has(m[2])) continue;
    stale.add(m[2]);
  }
  return stale;
}

export const iptablesPortMapper: PortMapper = {
  forward,
  check: checkPorts,
  unforward,
  gc: (conf, validIDs) => withFileLock(RULES_LOCK_PATH, () => gcPorts(conf.netName, validIDs)),
};
