import { invalidConfig } from '@tscni/cni/errors';
import type { Link } from '@tscni/net/host';
import { ipBatch, isExists } from '@tscni/net/host/ip';
import { getLink } from '@tscni/net/host/link';
import { randomVethName } from '@tscni/net/host/names';
import { setPortVlans, why } from './bridge-link';
import type { BridgeConf } from './config';

/**
 * With `vlan` ≠ 0 the gateway cannot sit on the bridge itself: like the reference, it goes on
 * `<bridge>.<vlan>`, one end of a host veth pair whose other end is an untagged access port of that
 * VLAN on the bridge. Created once per bridge and VLAN (a parallel ADD creating it first is fine).
 */
export async function ensureVlanGateway(conf: BridgeConf): Promise<Link> {
  const name = `${conf.bridge}.${conf.vlan}`;
  if (name.length > 15)
    throw invalidConfig('vlan', `gateway interface name ${name} would be longer than 15 characters`);
  const existing = await getLink(name);
  if (existing) return existing;
  const port = randomVethName();
  const mtu = conf.mtu ? ['mtu', String(conf.mtu)] : [];
  try {
    await ipBatch([
      ['link', 'add', name, ...mtu, 'type', 'veth', 'peer', 'name', port, ...mtu],
      ['link', 'set', 'dev', port, 'master', conf.bridge],
      ['link', 'set', 'dev', port, 'up'],
      ['link', 'set', 'dev', name, 'up'],
    ]);
    await setPortVlans({ vlan: conf.vlan, trunk: [], preserveDefaultVlan: conf.preserveDefaultVlan }, port);
  } catch (err) {
    if (!isExists(err)) {
      await ipBatch([['link', 'del', 'dev', name]]).catch(() => {});
      throw new Error(`failed to create vlan gateway ${JSON.stringify(name)}: ${why(err)}`);
    }
  }
  const link = await getLink(name);
  if (!link) throw new Error(`vlan gateway ${JSON.stringify(name)} vanished`);
  return link;
}
