import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import type { Link, Qdisc } from '@tscni/net/host';
import { jsonArrays } from '@tscni/net/host/ip-json';
import { getLink, linkExistsHere, listLinks } from '@tscni/net/host/link';
import { useIpInProcessOnDemand } from '@tscni/net/host/ip-on-demand';
import { hashedName } from '@tscni/net/host/names';
import { tcBatch } from '@tscni/net/host/tc';
import { parseLimits, shapesEgress, shapesIngress, type Limits } from './config';
import { assertNetns, findHostVeth, hostVethOf } from './host-veth';
import { applyShaping, createIfbListingLinks, deleteIfb, setIfbMtu, type IfbAndLinks } from './shaping';
import { tbfFor, tbfMismatch, tickInUsec, type Tbf } from './tbf';

// `ip` over rtnetlink in this process (under Bun), loaded by the first `ip` command: a pod without limits runs none.
useIpInProcessOnDemand();

/**
 * ADD: shape traffic to the pod with a TBF on the host veth, and traffic from the pod by redirecting
 * the host veth's ingress to an IFB that carries a TBF. The IFB joins the result's interfaces.
 * The pod's link is read beside the host's links, and the IFB is made by the batch that lists those: an IFB made
 * for a host veth that then fails the checks is removed again, and the checks' error is the one reported.
 */
async function add(args: CmdArgs): Promise<Result> {
  const limits = parseLimits(args);
  const result = args.requirePrevResult('bandwidth');
  if (!shapesIngress(limits) && !shapesEgress(limits)) return result;

  assertNetns(args.netns);
  const tick = tickInUsec();
  const { ingress, egress } = tbfs(limits, tick);
  const ifb = ifbName(args);
  const [pod, host] = await Promise.allSettled([
    getLink(args.ifName, args.netns),
    egress ? createIfbListingLinks(ifb) : listLinks().then((links): IfbAndLinks => ({ mac: '', mtu: 0, links })),
  ]);
  let hostVeth: Link;
  try {
    hostVeth = await hostVethOf(args.netns, args.ifName, result, pod, () => {
      if (host.status === 'fulfilled') return Promise.resolve(host.value.links);
      return egress ? listLinks() : Promise.reject(host.reason);
    });
  } catch (err) {
    if (host.status === 'fulfilled' && egress) await deleteIfb(ifb).catch(() => {});
    throw err;
  }
  if (host.status === 'rejected') throw host.reason; // the IFB's failure, met after the host veth's checks
  if (egress) await setIfbMtu(ifb, host.value.mtu, hostVeth.mtu);
  try {
    await applyShaping({ hostVeth: hostVeth.ifname, ingress, egress: egress && { ifb, tbf: egress } }, tick);
  } catch (err) {
    if (egress) await deleteIfb(ifb).catch(() => {});
    throw err;
  }
  if (egress) result.interfaces = [...(result.interfaces ?? []), { name: ifb, mac: host.value.mac }];
  return result;
}

/**
 * DEL: remove the IFB (a missing one is fine, and costs no process: looked up first, as the reference does). The
 * host veth's qdiscs go away with the veth. The limits are not validated: the IFB's name depends only on the
 * network name and container ID, and a config ADD would now reject must not keep DEL from cleaning up.
 */
async function del(args: CmdArgs): Promise<void> {
  const ifb = ifbName(args);
  if (linkExistsHere(ifb)) await deleteIfb(ifb);
}

/** CHECK: the TBFs (rate exact, burst and latency as tc rounds them), the ingress qdisc and the redirect to the IFB. */
async function check(args: CmdArgs): Promise<void> {
  const limits = parseLimits(args);
  const result = args.requirePrevResult('bandwidth');
  if (!shapesIngress(limits) && !shapesEgress(limits)) return;

  const hostVeth = (await findHostVeth(args.netns, args.ifName, result)).ifname;
  const { ingress, egress } = tbfs(limits, tickInUsec());
  const ifb = ifbName(args);
  const shows = [
    ['qdisc', 'show', 'dev', hostVeth],
    ...(egress
      ? [
          ['filter', 'show', 'dev', hostVeth, 'parent', 'ffff:'],
          ['qdisc', 'show', 'dev', ifb],
        ]
      : []),
  ];
  let out: string;
  try {
    out = await tcBatch(shows, undefined, { json: true });
  } catch (err) {
    throw new Error(
      `bandwidth: cannot read the qdiscs of ${hostVeth}${egress ? ` and ifb ${ifb}` : ''}: ${(err as Error).message}`,
    );
  }
  const [hostQdiscs = [], filters = [], ifbQdiscs = []] = jsonArrays(out);
  if (ingress) expectTbf(hostQdiscs as Qdisc[], ingress, hostVeth);
  if (egress) {
    if (!(hostQdiscs as Qdisc[]).some((q) => q.kind === 'ingress'))
      throw new Error(`bandwidth: no ingress qdisc on ${hostVeth}`);
    if (!redirectsTo(filters as Filter[], ifb))
      throw new Error(`bandwidth: no filter on ${hostVeth} redirecting to ${ifb}`);
    expectTbf(ifbQdiscs as Qdisc[], egress, ifb);
  }
}

/** The reference's IFB name: `bwp` + the network name and container ID hashed, 15 characters. */
const ifbName = (args: CmdArgs): string => hashedName('bwp', 15, args.netConf.name ?? '', args.containerID);

function tbfs(limits: Limits, tick: number): { ingress?: Tbf; egress?: Tbf } {
  return {
    ingress: shapesIngress(limits) ? tbfFor(limits.ingressRate, limits.ingressBurst, tick) : undefined,
    egress: shapesEgress(limits) ? tbfFor(limits.egressRate, limits.egressBurst, tick) : undefined,
  };
}

function expectTbf(qdiscs: Qdisc[], expected: Tbf, dev: string): void {
  const tbf = qdiscs.find((q) => q.kind === 'tbf' && q.root);
  if (!tbf) throw new Error(`bandwidth: failed to find the TBF qdisc on ${dev}`);
  const why = tbfMismatch(tbf.options ?? {}, expected);
  if (why) throw new Error(`bandwidth: TBF on ${dev} does not match: ${why}`);
}

/** A filter as `tc -j filter show` prints it: actions nest under options. */
interface Filter {
  options?: { actions?: { kind?: string; mirred_action?: string; to_dev?: string }[] };
}

const redirectsTo = (filters: Filter[], ifb: string): boolean =>
  filters.some((f) =>
    (f.options?.actions ?? []).some((a) => a.kind === 'mirred' && a.mirred_action === 'redirect' && a.to_dev === ifb),
  );

export const bandwidth: PluginFuncs = { add, del, check };
