/**
 * macspoofchk: frames entering the bridge from the pod's host veth must carry the pod's MAC.
 * Same layout as the reference (nft table `bridge nat`): base chain `PREROUTING` (filter,
 * prerouting, priority -300) jumps on `iifname <hostVeth>` to `cni-br-iface-<cid>-<if>`, which
 * jumps to `…-mac`: `ether saddr <mac> return`, then `drop`. Every rule is commented
 * `macspoofchk-<cid>-<if>`.
 */
import { run } from '@tscni/net/host/runner';
import { nftJson, isNftMissing } from '@tscni/net/netfilter/nft';

const T = { family: 'bridge', table: 'nat' };

export interface SpoofCheck {
  containerID: string;
  ifName: string;
}

const refID = (s: SpoofCheck): string => `${s.containerID}-${s.ifName}`;
const ifaceChain = (s: SpoofCheck): string => `cni-br-iface-${refID(s)}`;
const chain = (name: string) => ({ chain: { ...T, name } });

/**
 * The rules go in as nft JSON (one argv element: `nft -j -f -` cannot read a socket stdin), so
 * container IDs and interface names never meet the nft text parser.
 */
const applyJson = (commands: unknown[]) => run('nft', ['-j', JSON.stringify({ nftables: commands })]);

export async function setupSpoofCheck(s: SpoofCheck, hostVeth: string, mac: string): Promise<void> {
  const iface = ifaceChain(s);
  const macChain = `${iface}-mac`;
  const rule = (chainName: string, expr: unknown[]) => ({
    add: { rule: { ...T, chain: chainName, expr, comment: `macspoofchk-${refID(s)}` } },
  });
  await applyJson([
    { add: { table: { family: 'bridge', name: 'nat' } } },
    { add: { chain: { ...T, name: 'PREROUTING', type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' } } },
    { add: chain(iface) },
    { add: chain(macChain) },
    { flush: chain(iface) },
    { flush: chain(macChain) },
    rule('PREROUTING', [
      { match: { op: '==', left: { meta: { key: 'iifname' } }, right: hostVeth } },
      { jump: { target: iface } },
    ]),
    rule(iface, [{ jump: { target: macChain } }]),
    rule(macChain, [
      { match: { op: '==', left: { payload: { protocol: 'ether', field: 'saddr' } }, right: mac } },
      { return: null },
    ]),
    rule(macChain, [{ drop: null }]),
  ]);
}

/** CHECK: the pod's spoof-check chain is still there. */
export async function hasSpoofCheck(s: SpoofCheck): Promise<boolean> {
  try {
    return (await nftJson(['list', 'chain', 'bridge', 'nat', `${ifaceChain(s)}-mac`])).some((i) => 'rule' in i);
  } catch (err) {
    if (isNftMissing(err)) return false;
    throw err;
  }
}

/** Remove the jump rule and both chains; nothing there (or no table) is success. */
export async function teardownSpoofCheck(s: SpoofCheck): Promise<void> {
  let items: Record<string, unknown>[];
  try {
    items = await nftJson(['list', 'table', 'bridge', 'nat']);
  } catch (err) {
    if (isNftMissing(err)) return;
    throw err;
  }
  const chains = new Set(items.filter((i) => 'chain' in i).map((i) => (i.chain as { name: string }).name));
  const jumps = items
    .filter((i) => 'rule' in i)
    .map((i) => i.rule as { chain: string; handle: number; comment?: string })
    .filter((r) => r.chain === 'PREROUTING' && r.comment === `macspoofchk-${refID(s)}`);
  const mine = [ifaceChain(s), `${ifaceChain(s)}-mac`].filter((c) => chains.has(c));
  const commands = [
    ...jumps.map((r) => ({ delete: { rule: { ...T, chain: 'PREROUTING', handle: r.handle } } })),
    ...mine.map((c) => ({ flush: chain(c) })),
    ...mine.map((c) => ({ delete: chain(c) })),
  ];
  if (commands.length) await applyJson(commands);
}
