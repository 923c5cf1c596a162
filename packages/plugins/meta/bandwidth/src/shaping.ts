import type { Link } from '@tscni/net/host';
import { failureReason } from '@tscni/net/host/command-error';
import { ipBatch, isExists, isNotFound } from '@tscni/net/host/ip';
import { jsonArray } from '@tscni/net/host/ip-json';
import { failedBatchLine, tcBatch } from '@tscni/net/host/tc';
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

/** The egress IFB: the host veth's MTU, txqueuelen 0, up. Returns its MAC for the result. */
export async function createIfb(name: string, mtu: number): Promise<string> {
  try {
    const out = await ipBatch(
      [
        ['link', 'add', 'name', name, 'mtu', mtu, 'txqueuelen', 0, 'type', 'ifb'],
        ['link', 'set', 'dev', name, 'up'],
        ['link', 'show', 'dev', name],
      ],
      undefined,
      { json: true },
    );
    return jsonArray<Link>(out)[0]?.address ?? '';
  } catch (err) {
    if (!isExists(err)) await deleteIfb(name).catch(() => {});
    throw new Error(`create ifb ${name}: ${commandMessage(err)}`);
  }
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
