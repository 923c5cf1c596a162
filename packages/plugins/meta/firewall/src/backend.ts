import type { CIDR } from '@tscni/net/host';
import type { FirewallConf } from './config';
import { firewalldFirewall, firewalldRunning } from './firewalld';
import { iptablesFirewall } from './iptables-backend';
import { nftablesFirewall } from './nftables-backend';

/** One way of letting an attachment's traffic through (the reference's FirewallBackend, plus GC). */
export interface FirewallBackend {
  /** ADD: accept the addresses; `bridge` when an ingress policy other than open applies. */
  add(conf: FirewallConf, addrs: CIDR[], bridge: string | undefined): Promise<void>;
  /** DEL: `addrs` from prevResult, undefined without one (the rules are then found by their tag). */
  del(conf: FirewallConf, addrs: CIDR[] | undefined): Promise<void>;
  check(conf: FirewallConf, addrs: CIDR[]): Promise<void>;
  /** GC: this network's rules whose attachment is not listed. */
  gc(conf: FirewallConf, valid: readonly { containerID: string; ifname: string }[]): Promise<void>;
}

/**
 * The backend the config selects, chosen once per invocation. Without `backend`, firewalld when it runs (the
 * reference's default), else what parseConf chose. firewalld keeps no per-attachment rules of its own: its GC is
 * that of the rules backend it falls back on (iptables when firewalld was asked for by name).
 */
export async function firewallBackendFor(conf: FirewallConf): Promise<FirewallBackend> {
  const rules = conf.backend === 'nftables' ? nftablesFirewall : iptablesFirewall;
  if (conf.backend === 'firewalld' || (conf.backendDefaulted && (await firewalldRunning())))
    return firewalldFirewall(rules);
  return rules;
}
