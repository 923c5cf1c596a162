import type { Link } from '@tscni/net/host';
import { failureReason } from '@tscni/net/host/command-error';
import { ipBatch, isExists, isNotFound } from '@tscni/net/host/ip';
import { jsonArrays } from '@tscni/net/host/ip-json';
import { run } from '@tscni/net/host/runner';
import { batchScript, failedBatchLine, tcBatch } from '@tscni/net/host/tc';
import { tbfArgs, type Tbf } from './tbf';

/** What ADD sets up: ingress = TBF root on the host veth; egress = ingress qdisc + redirect to an IFB shaped by a TBF. */
export interface ShapingPlan {
  hostVeth: string;
  ingress?: Tbf;
  egress?: { ifb: string; tbf: Tbf };
}

type Command = (string | number)[];
interface Step {
  add: Command;
  /** Undoes `add`; absent when removing an earlier step (or the IFB) takes it away. */
  undo?: Command;
}

/** The tc commands of a plan, in order, each with its undo. */
export function shapingSteps(plan: ShapingPlan, tick: number): Step[] {
  const { hostVeth } = plan;
  const steps: Step[] = [];
  if (plan.ingress) {
    steps.push({
      add: ['qdisc', 'add', 'dev', hostVeth, 'root', 'handle', '1:', ...tbfArgs(plan.ingress, tick)],
      undo: ['qdisc', 'del', 'dev', hostVeth, 'root', 'handle', '1:'],
    });
  }
  if (plan.egress) {
    const { ifb, tbf } = plan.egress;
    steps.push({
      add: ['qdisc', 'add', 'dev', hostVeth, 'handle', 'ffff:', 'ingress'],
      undo: ['qdisc', 'del', 'dev', hostVeth, 'ingress'],
    });
    steps.push({
      add: [
        'filter',
        'add',
        'dev',
        hostVeth,
        'parent',
        'ffff:',
        'protocol',
        'all',
        'prio',
        1,
        'u32',
        'match',
        'u32',
        0,
        0,
        'action',
        'mirred',
        'egress',
        'redirect',
        'dev',
        ifb,
      ],
    });
    steps.push({ add: ['qdisc', 'add', 'dev', ifb, 'root', 'handle', '1:', ...tbfArgs(tbf, tick)] });
  }
  return steps;
}

/** All qdiscs and the filter in one `tc -batch`; on failure, undo exactly the commands that succeeded. */
export async function applyShaping(plan: ShapingPlan, tick: number): Promise<void> {
  const steps = shapingSteps(plan, tick);
  try {
    await tcBatch(steps.map((s) => s.add));
  } catch (err) {
    // tc stops at the failing line and names it; without that, assume nothing was applied.
    const applied = steps.slice(0, (failedBatchLine(err) ?? 1) - 1);
    const undo = applied.flatMap((s) => (s.undo ? [s.undo] : [])).reverse();
    await tcBatch(undo).catch(() => {});
    throw new Error(`failed to set up bandwidth shaping on ${plan.hostVeth}: ${commandMessage(err)}`);
  }
}

/** What the IFB's batch made and read: the IFB's MAC and MTU, and every host link (with details). */
export interface IfbAndLinks {
  mac: string;
  mtu: number;
  links: Link[];
}

/**
 * The egress IFB (txqueuelen 0, up) made by the same `ip -batch` that lists the host's links, so that it costs no
 * process after the host veth is found: it runs before the host veth, whose MTU it must get, is known — `setIfbMtu`
 * then sets that MTU when it is not the one the IFB got. On failure, what the batch made is removed (an IFB that
 * was there before is left alone) and the error is the one the reference's order of steps meets.
 */
export async function createIfbListingLinks(name: string): Promise<IfbAndLinks> {
  try {
    const { stdout } = await run('ip', ['-d', '-j', '-batch', '-'], {
      input: batchScript([
        ['link', 'add', 'name', name, 'txqueuelen', 0, 'type', 'ifb'],
        ['link', 'set', 'dev', name, 'up'],
        ['link', 'show', 'dev', name],
        ['link', 'show'],
      ]),
    });
    const [[ifb] = [], links = []] = jsonArrays<Link>(stdout);
    return { mac: ifb?.address ?? '', mtu: ifb?.mtu ?? 0, links };
  } catch (err) {
    throw await ifbFailure(name, err);
  }
}

/** The host veth's MTU on the IFB, when it did not get that one at creation. */
export async function setIfbMtu(name: string, made: number, mtu: number): Promise<void> {
  if (made === mtu) return;
  try {
    await ipBatch([['link', 'set', 'dev', name, 'mtu', mtu]]);
  } catch (err) {
    throw await ifbFailure(name, err);
  }
}

/** A failed IFB step: the IFB removed (unless it existed already), and the error to report. */
async function ifbFailure(name: string, err: unknown): Promise<Error> {
  if (!isExists(err)) await deleteIfb(name).catch(() => {});
  return new Error(`create ifb ${name}: ${commandMessage(err)}`);
}

/** Remove the IFB (its TBF goes with it); one that is already gone is fine. */
export async function deleteIfb(name: string): Promise<void> {
  try {
    await ipBatch([['link', 'del', 'dev', name]]);
  } catch (err) {
    if (!isNotFound(err)) throw new Error(`delete ifb ${name}: ${commandMessage(err)}`);
  }
}

const commandMessage = failureReason;
