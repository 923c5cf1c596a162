import type { Result } from '@tscni/cni';
import { invalidConfig } from '@tscni/cni/errors';
import { failureReason } from '../host/command-error';
import { CommandError } from '../host/runner';
import { ipBatch, isNotFound } from '../host/ip';
import { getLink, type Link } from '../host/link';
import { randomTempName } from '../host/names';
import { settlePodLink } from './pod-link';
import { defaultRouteInterface } from '../host/route';

/**
 * A new link of kind `type` (macvlan, ipvlan, vlan, dummy) for the pod: created under a temporary name
 * straight into the pod netns (`ip link add … netns <pod>`; with `masterInPod` it is created inside the
 * pod, where the master lives), then renamed to CNI_IFNAME and configured by `settlePodLink`. A failure
 * after the creation deletes the link again.
 */
export interface MasterLinkSpec {
  netns: string;
  ifName: string;
  /** `ip link add … type <type…>`, e.g. `['macvlan', 'mode', 'bridge']` or `['vlan', 'id', 100]`. */
  type: readonly (string | number)[];
  /** The lower device; none for standalone kinds such as dummy. */
  master?: string;
  /** linkInContainer: the master is inside the pod netns. */
  masterInPod?: boolean;
  mtu?: number;
  mac?: string;
  result?: Result;
}

export async function createPodLink(spec: MasterLinkSpec): Promise<Link> {
  const tmpName = randomTempName('cni');
  const add: (string | number)[] = ['link', 'add'];
  if (spec.master) add.push('link', spec.master);
  add.push('name', tmpName);
  if (!spec.masterInPod) add.push('netns', spec.netns);
  if (spec.mtu) add.push('mtu', spec.mtu);
  if (spec.mac) add.push('address', spec.mac);
  add.push('type', ...spec.type);
  try {
    await ipBatch([add], spec.masterInPod ? spec.netns : undefined);
  } catch (err) {
    throw linkAddError(String(spec.type[0]), spec.master, err);
  }
  return settlePodLink({
    netns: spec.netns,
    ifName: spec.ifName,
    tmpName,
    result: spec.result,
    undo: (name) => ipBatch([['link', 'del', 'dev', name]], spec.netns).then(() => {}),
  });
}

function linkAddError(kind: string, master: string | undefined, err: unknown): Error {
  if (!(err instanceof CommandError)) return err as Error;
  const why = failureReason(err);
  if (/Unknown device type|Operation not supported/i.test(why)) {
    return new Error(`failed to create ${kind}: the kernel has no ${kind} support (${why})`);
  }
  return new Error(`failed to create ${kind}${master ? ` on ${master}` : ''}: ${why}`);
}

/** Where the master is looked up: the plugin's own (node) netns, or the pod's with linkInContainer. */
export interface MasterLookup {
  master?: string;
  linkInContainer?: boolean;
  netns: string;
}

/** The master link (default: the interface of the default route, as macvlan does); error 7 when missing. */
export async function resolveMaster(m: MasterLookup, opts: { defaultToRoute?: boolean } = {}): Promise<Link> {
  const where = m.linkInContainer ? m.netns : undefined;
  let name = m.master;
  if (!name) {
    if (!opts.defaultToRoute) throw invalidConfig('master', 'required');
    name = await defaultRouteInterface(where);
    if (!name) throw invalidConfig('master', 'not set and there is no default route to take it from');
  }
  let link: Link | undefined;
  try {
    link = await getLink(name, where);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!link)
    throw invalidConfig(
      'master',
      `link ${JSON.stringify(name)} not found${m.linkInContainer ? ' in the container netns' : ''}`,
    );
  return link;
}

/** `mtu` must fit the master: [0, master MTU] (0 or unset = inherit). */
export function checkMtuWithinMaster(mtu: number | undefined, master: Link): void {
  if (mtu !== undefined && (mtu < 0 || mtu > master.mtu)) {
    throw invalidConfig('mtu', `invalid MTU ${mtu}, must be [0, master MTU(${master.mtu})]`);
  }
}
