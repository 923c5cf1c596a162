/**
 * The firewalld backend: each pod address (as `ip/32` or `ip/128`) becomes a source of `firewalldZone` in
 * firewalld's runtime configuration, over D-Bus on the system bus (`DBUS_SYSTEM_BUS_ADDRESS` is honoured):
 * org.fedoraproject.FirewallD1.zone addSource / removeSource / querySource, like the reference.
 *
 * D-Bus is spoken through `busctl` (systemd), with argument arrays and `--json=short` replies: it ships with
 * every systemd node, so no native module and no D-Bus client library in the bundle; one short process per
 * address and verb, the same order of cost as the iptables backend's tools.
 */
import { existsSync } from 'node:fs';
import { invalidConfig } from '@tscni/cni/errors';
import type { CIDR } from '@tscni/net/host';
import { CommandError, failureReason } from '@tscni/net/host/command-error';
import { formatIP } from '@tscni/net/host/ipaddr';
import { withFileLock } from '@tscni/net/host/lock';
import { run } from '@tscni/net/host/runner';
import { RULES_LOCK_PATH } from '@tscni/net/netfilter/iptables-script';
import type { FirewallBackend } from './backend';
import type { FirewallConf } from './config';
import { addFamily } from './iptables-backend';

const FIREWALLD = 'org.fedoraproject.FirewallD1';
const FIREWALLD_PATH = '/org/fedoraproject/FirewallD1';
const ZONE_INTERFACE = `${FIREWALLD}.zone`;
const DEFAULT_SYSTEM_BUS = '/run/dbus/system_bus_socket';
export const DEFAULT_ZONE = 'trusted';

/** Zone names as firewalld writes them (letters, digits, `_`, `-`, `+`), never an option-like argument. */
function zoneOf(conf: FirewallConf): string {
  const zone = conf.firewalldZone;
  const z = zone || DEFAULT_ZONE;
  if (!/^[A-Za-z0-9_+][A-Za-z0-9_+-]{0,63}$/.test(z))
    throw invalidConfig('firewalldZone', `${JSON.stringify(z)} is not a firewalld zone name`);
  return z;
}

/**
 * One method call on the system bus; the reply's values. `--auto-start=no`: a call never starts firewalld through
 * D-Bus activation (a stopped firewalld is an error, not a firewall that appears on the node). `--` ends busctl's
 * options: no value is read as one.
 */
async function busCall(
  destination: string,
  path: string,
  iface: string,
  method: string,
  signature: string,
  args: string[],
): Promise<unknown[]> {
  const { stdout } = await run('busctl', [
    '--system',
    '--json=short',
    '--auto-start=no',
    '--',
    'call',
    destination,
    path,
    iface,
    method,
    signature,
    ...args,
  ]);
  const reply = JSON.parse(stdout || '{}') as { data?: unknown[] };
  return reply.data ?? [];
}

/** firewalld's error name, e.g. ZONE_ALREADY_SET from `Call failed: ZONE_ALREADY_SET: '10.0.0.5/32' already bound…`. */
const firewalldError = (err: unknown): string | undefined =>
  err instanceof CommandError ? /Call failed: ([A-Z_]+):/.exec(err.stderr)?.[1] : undefined;

function callFailure(what: string, err: unknown): Error {
  if (err instanceof CommandError && err.exitCode === null)
    return new Error(`${what}: the firewalld backend needs busctl (systemd): ${err.stderr}`, { cause: err });
  return new Error(`${what}: ${failureReason(err).replace(/^Call failed: /, '')}`, { cause: err });
}

/** The source firewalld gets for an address: the host prefix, as the reference sends it. */
const source = (a: CIDR): string => `${formatIP(a.ip)}/${a.ip.family === 4 ? 32 : 128}`;

const zoneCall = (method: string, zone: string, src: string) =>
  busCall(FIREWALLD, FIREWALLD_PATH, ZONE_INTERFACE, method, 'ss', [zone, src]);

/**
 * ADD: every address becomes a source of the zone; one that already is (ZONE_ALREADY_SET) is fine. An ingress
 * policy is the iptables isolation chains whatever the backend, as in the reference.
 */
export async function addFirewalld(conf: FirewallConf, addrs: CIDR[], bridge: string | undefined): Promise<void> {
  const zone = zoneOf(conf);
  for (const a of addrs) {
    await zoneCall('addSource', zone, source(a)).catch((err) => {
      if (firewalldError(err) !== 'ZONE_ALREADY_SET')
        throw callFailure(`failed to add the address ${source(a)} to ${zone} zone`, err);
    });
  }
  if (!bridge) return;
  const families = [...new Set(addrs.map((a) => a.ip.family))];
  await withFileLock(RULES_LOCK_PATH, async () => {
    for (const family of families) await addFamily(conf, family, [], bridge);
  });
}

/** DEL: remove the sources; one that is gone already (or firewalld itself) is not an error, as in the reference. */
export async function delFirewalld(conf: FirewallConf, addrs: CIDR[]): Promise<void> {
  const zone = zoneOf(conf);
  for (const a of addrs) await zoneCall('removeSource', zone, source(a)).catch(() => undefined);
}

/** CHECK: every address is a source of the zone (querySource answers true). */
export async function checkFirewalld(conf: FirewallConf, addrs: CIDR[]): Promise<void> {
  const zone = zoneOf(conf);
  for (const a of addrs) {
    let bound: unknown;
    try {
      [bound] = await zoneCall('querySource', zone, source(a));
    } catch (err) {
      throw callFailure(`failed to find the address ${source(a)} in ${zone} zone`, err);
    }
    if (bound !== true) throw new Error(`failed to find the address ${source(a)} in ${zone} zone`);
  }
}

/**
 * The reference's default backend: firewalld when it owns its name on the system bus. A bus socket that is not
 * there answers without spawning anything (the common case on nodes without D-Bus).
 */
export async function firewalldRunning(): Promise<boolean> {
  const address = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  const path = address ? /(?:^|;)unix:(?:[^;]*,)?path=([^,;]+)/.exec(address)?.[1] : DEFAULT_SYSTEM_BUS;
  if (path !== undefined && !existsSync(decodeURIComponent(path))) return false;
  try {
    const [owner] = await busCall(
      'org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus',
      'GetNameOwner',
      's',
      [FIREWALLD],
    );
    return typeof owner === 'string' && owner !== '';
  } catch {
    return false;
  }
}

/** firewalld for the addresses; `rules` (the backend firewalld would fall back on) for GC. */
export const firewalldFirewall = (rules: FirewallBackend): FirewallBackend => ({
  add: addFirewalld,
  del: (conf, addrs) => delFirewalld(conf, addrs ?? []),
  check: checkFirewalld,
  gc: rules.gc,
});
