/**
 * ipMasq for bridge, ptp (and later macvlan/ipvlan/vlan): SNAT a pod's traffic that leaves its
 * subnet. Two backends, laid out exactly like the reference's so either implementation tears down
 * the other's rules:
 *  - iptables nat: chain `CNI-<hash(net+cid)>` with `-d <subnet> -j ACCEPT` and
 *    `! -d <multicast> -j MASQUERADE`, entered from POSTROUTING by `-s <ip> -j CNI-<hash>`, every
 *    rule commented `name: "<net>" id: "<cid>"`;
 *  - nftables: see ipmasq-nft.ts.
 * Teardown covers the backend the ADD recorded (nftables, ipmasq-state.ts), or both without a record; GC always covers
 * both (the attachment may come from another configuration).
 */
import { CommandError } from '../host/runner';
import { iptablesAvailable, iptablesRestore, iptablesSave, nftAvailable, savedChains, type IPFamily } from './iptables';
import { familyOfText, formatCIDR, formatIP, networkOf, parseCIDR } from '../host/ipaddr';
import { gcIpMasqNft, hasIpMasqNft, setupIpMasqNft, teardownIpMasqNft } from './ipmasq-nft';
import { hashedName } from '../host/names';
import { forgetBackend, gcBackendRecords, masqStatePath, recordBackend, recordedBackend } from './ipmasq-state';
import { failuresOf, sideBySide } from '../host/side-by-side';

export type IpMasqBackendName = 'iptables' | 'nftables';

/** Who the rules belong to. */
export interface MasqOwner {
  network: string;
  containerID: string;
  ifName: string;
}

/** One way of writing masquerade rules; every method skips what is not installed (except setup). */
export interface IpMasqBackend {
  /** Masquerade traffic from each address (CIDRs like `10.0.0.5/24`) leaving its subnet. */
  setup(addresses: readonly string[], owner: MasqOwner): Promise<void>;
  /**
   * Remove the owner's rules. `used`: the addresses the ADD masqueraded (a cached prevResult's), when known: the
   * iptables families without one are not read, and the jumps are deleted without a read first. Without it,
   * every family is searched.
   */
  teardown(owner: MasqOwner, used?: readonly string[]): Promise<void>;
  has(owner: MasqOwner): Promise<boolean>;
  /** Drop the rules of this network whose attachment is not in `valid`. */
  gc(network: string, valid: readonly { containerID: string; ifname: string }[]): Promise<void>;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MULTICAST: Record<IPFamily, string> = { 4: '224.0.0.0/4', 6: 'ff00::/8' };

/** The reference's default: iptables, unless only nft is installed. */
export function defaultIpMasqBackend(): IpMasqBackendName {
  return !iptablesAvailable() && nftAvailable() ? 'nftables' : 'iptables';
}

/**
 * The ipMasq of one plugin config, chosen once: rules are written with the configured backend (or the
 * default). With `stateDir` (ipmasq-state.ts), an nftables ADD records its backend first, and teardown and CHECK
 * touch only the recorded one (the point of the record: a config changed between ADD and DEL does not matter); without
 * a record — an iptables ADD, or no `stateDir` — teardown and CHECK cover every installed backend, since the
 * attachment may come from another configuration, an older version or the reference. GC always covers every backend.
 * As before, one ADD per attachment is assumed (a repeated ADD under the other backend drops the record).
 */
export function ipMasqFor(backend?: IpMasqBackendName, stateDir?: string): IpMasqBackend {
  const writerName = backend ?? defaultIpMasqBackend();
  const writer = writerName === 'nftables' ? nftablesIpMasq : iptablesIpMasq;
  const all = [iptablesIpMasq, nftablesIpMasq];
  const stateOf = (owner: MasqOwner) => (stateDir ? masqStatePath(stateDir, owner) : undefined);
  return {
    setup: async (addresses, owner) => {
      checkOwner(owner);
      recordBackend(stateOf(owner), writerName);
      await writer.setup(addresses, owner);
    },
    teardown: async (owner, used) => {
      checkOwner(owner);
      const file = stateOf(owner);
      const known = used?.every((a) => parseCIDR(a)) ? used : undefined; // anything odd: search everything
      const recorded = recordedBackend(file);
      if (recorded === 'nftables') await nftablesIpMasq.teardown(owner);
      else if (recorded === 'iptables') await iptablesTeardown(owner, known);
      else await everyTeardown(owner, known);
      forgetBackend(file);
    },
    has: async (owner) => {
      checkOwner(owner);
      const recorded = recordedBackend(stateOf(owner));
      for (const b of recorded ? [recorded === 'nftables' ? nftablesIpMasq : iptablesIpMasq] : all)
        if (await b.has(owner)) return true;
      return false;
    },
    gc: async (network, valid) => {
      checkOwner({ network, containerID: 'x', ifName: 'x' });
      await collectErrors(all.map((b) => () => b.gc(network, valid)));
      if (stateDir) gcBackendRecords(stateDir, network, valid);
    },
  };
}

/**
 * No record: every backend. With the ADD's addresses, iptables' rules go without a read when they are all there.
 * Then this attachment's ADD wrote iptables rules, and an ADD writes one backend only: nft's table is not read (a
 * process less). Else each family left is read, and nft's table too, as without them.
 */
async function everyTeardown(owner: MasqOwner, known: readonly string[] | undefined): Promise<void> {
  if (!known?.length) return collectErrors([iptablesIpMasq, nftablesIpMasq].map((b) => () => b.teardown(owner, known)));
  const left = await iptablesWithoutRead(owner, known);
  if (left === undefined) return;
  await collectErrors([
    ...left.map((f) => () => removeIptablesChains(f, new Set([masqChainName(owner)]))),
    () => nftablesIpMasq.teardown(owner),
  ]);
}

/** Recorded iptables: without a read when the ADD's addresses are known and all there; nft is never read. */
async function iptablesTeardown(owner: MasqOwner, known: readonly string[] | undefined): Promise<void> {
  if (!known?.length) return iptablesIpMasq.teardown(owner);
  const left = await iptablesWithoutRead(owner, known);
  if (left?.length)
    await collectErrors(left.map((f) => () => removeIptablesChains(f, new Set([masqChainName(owner)]))));
}

/** iptables nat: one chain per attachment, in each family that has iptables. */
export const iptablesIpMasq: IpMasqBackend = {
  // The families side by side (each its own table); a failure of IPv4's is the one reported.
  setup: (addresses, owner) =>
    sideBySide(
      ([4, 6] as const)
        .map((family) => ({ family, mine: addresses.filter((a) => familyOfText(a) === family) }))
        .filter(({ mine }) => mine.length)
        .map(
          ({ family, mine }) =>
            () =>
              setupIptablesFamily(family, mine, owner),
        ),
    ),
  teardown: (owner, used) =>
    collectErrors(
      installedFamilies()
        .filter((f) => !used || used.some((a) => familyOfText(a) === f))
        .map(
          (f) => () =>
            teardownIptablesFamily(
              f,
              owner,
              used?.filter((a) => familyOfText(a) === f),
            ),
        ),
    ),
  has: async (owner) => {
    for (const family of installedFamilies())
      if (savedChains(await iptablesSave(family, 'nat')).has(masqChainName(owner))) return true;
    return false;
  },
  gc: (network, valid) => {
    const validIDs = new Set(valid.map((a) => a.containerID));
    return collectErrors(installedFamilies().map((f) => () => gcIptablesFamily(f, network, validIDs)));
  },
};

const installedFamilies = (): IPFamily[] => ([4, 6] as const).filter((f) => iptablesAvailable(f));

/** The nftables table (ipmasq-nft.ts), when nft is installed. */
export const nftablesIpMasq: IpMasqBackend = {
  setup: setupIpMasqNft,
  teardown: async (owner) => {
    if (nftAvailable()) await teardownIpMasqNft(owner);
  },
  has: async (owner) => nftAvailable() && (await hasIpMasqNft(owner)),
  gc: async (network, valid) => {
    if (nftAvailable()) await gcIpMasqNft(network, valid);
  },
};

export const masqChainName = (owner: Pick<MasqOwner, 'network' | 'containerID'>): string =>
  hashedName('CNI-', 28, owner.network, owner.containerID);
export const masqComment = (owner: Pick<MasqOwner, 'network' | 'containerID'>): string =>
  `name: "${owner.network}" id: "${owner.containerID}"`;

/** The comment as iptables-save prints it (and iptables-restore reads it). */
const savedComment = (owner: MasqOwner): string => `"${masqComment(owner).replace(/"/g, '\\"')}"`;

async function setupIptablesFamily(family: IPFamily, addresses: string[], owner: MasqOwner): Promise<void> {
  const chain = masqChainName(owner);
  const comment = `-m comment --comment ${savedComment(owner)}`;
  // Every subnet's ACCEPT before the MASQUERADE (the reference appends per IP, which puts a second
  // subnet's ACCEPT behind the first MASQUERADE).
  const rules = [...new Set(addresses.map((a) => formatCIDR(networkOf(mustCIDR(a)))))].map(
    (subnet) => `-A ${chain} -d ${subnet} ${comment} -j ACCEPT`,
  );
  rules.push(`-A ${chain} ! -d ${MULTICAST[family]} ${comment} -j MASQUERADE`);
  const jumps = addresses.map((a) => jumpRule(family, a, chain, comment));
  // A new attachment: no chain, so no jump into it either (iptables refuses a jump to a missing chain). `-N` makes the
  // chain and fails the whole (atomic) restore when it exists — a repeated ADD, or one by the reference — which
  // then takes the path that reads the table, so that no jump is added twice.
  try {
    await iptablesRestore(family, ['*nat', `-N ${chain}`, ...rules, ...new Set(jumps), 'COMMIT', ''].join('\n'));
    return;
  } catch {
    /* the chain exists (or the restore fails again below, with the error it always gave) */
  }
  const existing = new Set((await iptablesSave(family, 'nat')).split('\n'));
  // Declaring a user chain with --noflush empties it: we rebuild it whole.
  const lines = ['*nat', `:${chain} - [0:0]`, ...rules];
  for (const rule of jumps) if (!existing.has(rule)) lines.push(rule);
  lines.push('COMMIT', '');
  await iptablesRestore(family, lines.join('\n'));
}

const jumpRule = (family: IPFamily, address: string, chain: string, comment: string): string =>
  `-A POSTROUTING -s ${formatIP(mustCIDR(address).ip)}/${family === 4 ? 32 : 128} ${comment} -j ${chain}`;

/**
 * The owner's chain and its jumps in one family. With the addresses the ADD used, first without a read: delete
 * each jump, then flush and delete the chain, in one atomic restore — which fails, changing nothing, when any of it
 * is not there or another jump still enters the chain; then (and without `used`) the table is read and whatever
 * jumps into the chain goes.
 */
async function teardownIptablesFamily(family: IPFamily, owner: MasqOwner, used?: string[]): Promise<void> {
  if (used?.length && (await removeWithoutRead(family, owner, used))) return;
  await removeIptablesChains(family, new Set([masqChainName(owner)]));
}

/** The blind restore above; false when it failed (changing nothing). */
async function removeWithoutRead(family: IPFamily, owner: MasqOwner, used: readonly string[]): Promise<boolean> {
  const chain = masqChainName(owner);
  const comment = `-m comment --comment ${savedComment(owner)}`;
  const deletes = [...new Set(used.map((a) => '-D' + jumpRule(family, a, chain, comment).slice(2)))];
  try {
    await iptablesRestore(family, ['*nat', ...deletes, `-F ${chain}`, `-X ${chain}`, 'COMMIT', ''].join('\n'));
    return true;
  } catch {
    return false; // partly gone already, or laid out otherwise (or written by nftables): read what is there
  }
}

/**
 * Every family of `used` that has iptables, removed without a read, side by side: undefined when each was (and there
 * was one at least), else the installed families of `used` whose blind removal failed (none removed a rule).
 */
async function iptablesWithoutRead(owner: MasqOwner, used: readonly string[]): Promise<IPFamily[] | undefined> {
  const families = installedFamilies().filter((f) => used.some((a) => familyOfText(a) === f));
  const removed = await Promise.all(
    families.map((f) =>
      removeWithoutRead(
        f,
        owner,
        used.filter((a) => familyOfText(a) === f),
      ),
    ),
  );
  const left = families.filter((_, i) => !removed[i]);
  return families.length && !left.length ? undefined : left;
}

/** Delete POSTROUTING jumps into `chains`, then the chains themselves, in one restore. */
async function removeIptablesChains(family: IPFamily, chains: Set<string>, saved?: string): Promise<void> {
  saved ??= await iptablesSave(family, 'nat');
  const present = savedChains(saved);
  const jumps = saved.split('\n').filter((l) => l.startsWith('-A POSTROUTING ') && chains.has(jumpTarget(l) ?? ''));
  const doomed = [...chains].filter((c) => present.has(c));
  if (!jumps.length && !doomed.length) return;
  const lines = [
    '*nat',
    ...jumps.map((l) => '-D' + l.slice(2)),
    ...doomed.flatMap((c) => [`-F ${c}`, `-X ${c}`]),
    'COMMIT',
    '',
  ];
  try {
    await iptablesRestore(family, lines.join('\n'));
  } catch (err) {
    // Someone removed part of it concurrently (a repeated DEL): fine if nothing is left now.
    const again = await iptablesSave(family, 'nat');
    const left =
      [...chains].some((c) => savedChains(again).has(c)) ||
      again.split('\n').some((l) => l.startsWith('-A POSTROUTING ') && chains.has(jumpTarget(l) ?? ''));
    if (left) throw err;
  }
}

const COMMENT_RE = /--comment "name: \\"([^"\\]*)\\" id: \\"([^"\\]*)\\""/;

async function gcIptablesFamily(family: IPFamily, network: string, validIDs: Set<string>): Promise<void> {
  const saved = await iptablesSave(family, 'nat');
  const stale = new Set<string>();
  for (const line of saved.split('\n')) {
    if (!line.startsWith('-A POSTROUTING ')) continue;
    const m = COMMENT_RE.exec(line);
    const target = jumpTarget(line);
    if (!m || !target || m[1] !== network || validIDs.has(m[2])) continue;
    if (target === masqChainName({ network, containerID: m[2] })) stale.add(target);
  }
  if (stale.size) await removeIptablesChains(family, stale, saved);
}

const jumpTarget = (line: string): string | undefined => / -j (\S+)$/.exec(line)?.[1];

function mustCIDR(text: string) {
  const c = parseCIDR(text);
  if (!c) throw new Error(`ipMasq: invalid address ${JSON.stringify(text)}`);
  return c;
}

function checkOwner(owner: MasqOwner): void {
  for (const what of ['network', 'containerID'] as const)
    if (!SAFE_ID.test(owner[what])) throw new Error(`ipMasq: invalid ${what} ${JSON.stringify(owner[what])}`);
  if (!/^[^"\\\s]{1,15}$/.test(owner.ifName)) throw new Error(`ipMasq: invalid ifName ${JSON.stringify(owner.ifName)}`);
}

/** Run every step at once (each touches its own family's table or backend); throw one error listing the failures. */
async function collectErrors(steps: (() => Promise<void>)[]): Promise<void> {
  const errors = (await failuresOf(steps)).map((err) =>
    err instanceof CommandError ? err.message : String((err as Error)?.message ?? err),
  );
  if (errors.length) throw new Error(errors.join('; '));
}
