/**
 * The node agent: lease a subnet, set up the backend, write subnet.env, then keep the data plane in step
 * with etcd (a watch on the subnets, a periodic full read as a safety net), renew the lease before the
 * margin, and survive etcd outages by leaving the kernel as it is and retrying with backoff.
 */
import { rmSync } from 'node:fs';
import { formatCIDR } from '@tscni/net/host';
import type { Watcher } from 'etcd3';
import type { AgentFlags } from './flags';
import type { Logger } from './log';
import { Metrics } from './metrics';
import { Registry } from './registry';
import { findExternalIface, ipv6Of } from './iface';
import { parseNetworkConfig, sameSubnet, type NetworkConfig } from './network';
import { describeLease, makeAttrs, type Lease } from './lease';
import { SubnetLostError, SubnetManager } from './subnet-manager';
import { PolicyController } from './policy/controller';
import { previousSubnets, writeSubnetFile } from './subnet-file';
import { applyMasq, pickFirewall, removeMasq, type Firewall, type MasqSpec } from './ipmasq';
import { Backoff, StoppedError, retry, sleep } from './backoff';
import { VxlanBackend } from './backend/vxlan';
import { HostGwBackend } from './backend/host-gw';
import type { Backend } from './backend/backend';

/** A full read of the leases this often even when the watch is quiet (heals missed events). */
const RESYNC_MS = 10_000;
/** Coalesce bursts of watch events into one sync. */
const DEBOUNCE_MS = 50;

export class Agent {
  private readonly stop = new AbortController();
  private registry?: Registry;
  private manager?: SubnetManager;
  private backend?: Backend;
  private cfg?: NetworkConfig;
  private masq?: { fw: Firewall; spec: MasqSpec };
  private watcher?: Watcher;
  private policy?: PolicyController;
  private known = new Map<string, string>();
  private refusedLogged = new Set<string>();
  private syncTimer?: NodeJS.Timeout;
  private syncing?: Promise<void>;
  private dirty = false;
  private watchDown = false;
  private readonly syncBackoff = new Backoff(500, 10_000);
  /** Settles when the agent stops; rejects on a fatal error. */
  readonly done: Promise<void>;
  private fail!: (err: Error) => void;
  private finish!: () => void;

  constructor(
    private readonly flags: AgentFlags,
    private readonly log: Logger,
    readonly metrics = new Metrics(),
  ) {
    this.done = new Promise((resolve, reject) => ((this.finish = resolve), (this.fail = reject)));
  }

  get stopping(): boolean {
    return this.stop.signal.aborted;
  }

  async start(): Promise<void> {
    const f = this.flags;
    const signal = this.stop.signal;
    if (f.metricsAddr) this.log.info('metrics listening', { addr: await this.metrics.listen(f.metricsAddr) });
    let ext = await findExternalIface(f.iface, f.publicIp);
    this.log.info('external interface', {
      iface: ext.name,
      ifaceAddr: ext.ifaceAddr,
      publicIP: ext.publicIp,
      mtu: ext.mtu,
    });
    const registry = (this.registry = new Registry(f));
    const etcdError = (op: string) => (err: Error, delayMs: number) => {
      this.metrics.etcdErrors.inc({ op });
      this.log.warn('etcd unavailable, retrying', { op, error: err.message, retryInMs: delayMs });
    };
    const cfgText = await retry(
      async () => {
        const text = await registry.getConfig();
        if (text === undefined) throw new Error(`no network config at ${f.etcdPrefix}/config`);
        return text;
      },
      etcdError('config'),
      signal,
    );
    const cfg = (this.cfg = parseNetworkConfig(cfgText));
    const v6 = cfg.ipv6 ? { ipv6Network: formatCIDR(cfg.ipv6.network), ipv6SubnetLen: cfg.ipv6.subnetLen } : {};
    this.log.info('network config', {
      network: formatCIDR(cfg.network),
      subnetLen: cfg.subnetLen,
      ...v6,
      backend: cfg.backend.type,
      vni: cfg.backend.vni,
      port: cfg.backend.port,
      directRouting: cfg.backend.directRouting,
    });
    if (cfg.ipv6Ignored)
      this.log.warn('IPv6Network ignored: the config does not set "EnableIPv6": true (as flanneld)', {});
    if (cfg.backend.directRouting && cfg.backend.type !== 'vxlan')
      this.log.warn('Backend.DirectRouting ignored: it is a vxlan option', {});
    if (cfg.ipv6) ext = await ipv6Of(ext, f.publicIpv6);
    else if (f.publicIpv6) this.log.warn('-public-ipv6 ignored: the network config does not enable IPv6', {});
    if (cfg.ipv6)
      this.log.info('external interface, IPv6', {
        iface: ext.name,
        ifaceAddrV6: ext.ifaceAddr6,
        publicIPv6: ext.publicIp6,
      });
    const backend: Backend = (this.backend =
      cfg.backend.type === 'vxlan' ? new VxlanBackend(cfg, ext) : new HostGwBackend(cfg, ext));
    const { data, data6, mtu } = await backend.init();
    const attrs = makeAttrs(ext.publicIp, cfg.backend.type, data, ext.publicIp6, data6);
    this.manager = new SubnetManager(
      registry,
      cfg,
      attrs,
      f.subnetLeaseTtl,
      f.stateFile,
      previousSubnets(f.subnetFile),
      this.log,
    );
    if (signal.aborted) throw new StoppedError();
    const own = await retry(() => this.manager!.acquire(), etcdError('acquire'), signal);
    this.metrics.leaseAcquisitions.inc();
    if (signal.aborted) throw new StoppedError();
    await backend.setLocalSubnet(own.subnet, own.subnet6);
    const ipv6 = cfg.ipv6 && own.subnet6 ? { network: cfg.ipv6.network, subnet: own.subnet6 } : undefined;
    if (f.ipMasq || f.iptablesForwardRules) {
      this.masq = {
        fw: pickFirewall(),
        spec: { network: cfg.network, subnet: own.subnet, ipv6, masq: f.ipMasq, forward: f.iptablesForwardRules },
      };
      await applyMasq(this.masq.fw, this.masq.spec);
      this.log.info('masquerade rules installed', {
        firewall: this.masq.fw,
        ipMasq: f.ipMasq,
        forwardRules: f.iptablesForwardRules,
      });
    }
    writeSubnetFile(f.subnetFile, { network: cfg.network, subnet: own.subnet, ipv6, mtu, ipMasq: f.ipMasq });
    this.log.info('subnet file written', {
      path: f.subnetFile,
      subnet: formatCIDR(own.subnet),
      ...(ipv6 ? { subnet6: formatCIDR(ipv6.subnet) } : {}),
      mtu,
    });
    // The watch first: a lease written between the first read and a later watch would be missed until the resync.
    await this.startWatch();
    await this.sync();
    void this.renewLoop();
    void this.resyncLoop();
    if (f.networkPolicy) {
      this.policy = new PolicyController(
        registry,
        f.policyPrefix.replace(/\/+$/, ''),
        own.subnet,
        this.log,
        this.metrics.registry,
      );
      await retry(() => this.policy!.start(), etcdError('policy'), signal);
    }
  }

  /** Stop; with -cleanup-on-exit also give the subnet back and remove the kernel state. */
  async shutdown(): Promise<void> {
    if (this.stop.signal.aborted) return;
    this.stop.abort();
    clearTimeout(this.syncTimer);
    await this.syncing?.catch(() => {});
    await this.watcher?.cancel().catch(() => {});
    await this.policy
      ?.stop(this.flags.cleanupOnExit)
      .catch((err: Error) => this.log.warn('policy table not removed', { error: err.message }));
    if (this.flags.cleanupOnExit) {
      await this.manager
        ?.release()
        .catch((err: Error) => this.log.warn('lease not released (it expires by its TTL)', { error: err.message }));
      await this.backend
        ?.teardown()
        .catch((err: Error) => this.log.warn('backend teardown failed', { error: err.message }));
      if (this.masq)
        await removeMasq(this.masq.fw, this.masq.spec).catch((err: Error) =>
          this.log.warn('masquerade rules not removed', { error: err.message }),
        );
      rmSync(this.flags.subnetFile, { force: true });
      this.log.info('cleaned up', {});
    }
    this.registry?.close();
    this.metrics.close();
    this.finish();
  }

  /** Ask for a sync soon (many requests in a burst become one). */
  private requestSync(delay = DEBOUNCE_MS): void {
    if (this.stop.signal.aborted) return;
    clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => void this.sync(), delay);
  }

  private async sync(): Promise<void> {
    if (this.syncing) {
      this.dirty = true;
      return this.syncing;
    }
    this.syncing = this.syncOnce().finally(() => (this.syncing = undefined));
    await this.syncing;
    if (this.dirty && !this.stop.signal.aborted) {
      this.dirty = false;
      this.requestSync(0);
    }
  }

  private async syncOnce(): Promise<void> {
    let leases: Lease[];
    try {
      leases = (await this.registry!.getLeases()).leases;
    } catch (err) {
      const delay = this.syncBackoff.next();
      this.metrics.etcdErrors.inc({ op: 'list' });
      this.log.warn('etcd unavailable, data plane left as is', { error: (err as Error).message, retryInMs: delay });
      this.requestSync(delay);
      return;
    }
    this.syncBackoff.reset();
    this.metrics.leases.set(leases.length);
    if (!this.manager!.holds(leases)) await this.renew('own lease missing or changed');
    const own = this.manager!.own;
    const peers = leases.filter((l) => !own || !sameSubnet(l.subnet, own.subnet));
    this.logLeaseChanges(peers);
    const end = this.metrics.programming.startTimer();
    try {
      const result = await this.backend!.sync(peers);
      end();
      this.metrics.peers.set(result.programmed);
      this.metrics.refusedPeers.set(result.refused.length);
      for (const change of result.changes) this.log.info('route change', { change });
      for (const r of result.refused) {
        const key = `${r.subnet} ${r.publicIP} ${r.reason}`;
        if (!this.refusedLogged.has(key)) this.log.error('peer refused', r);
        this.refusedLogged.add(key);
      }
    } catch (err) {
      this.log.error('programming the data plane failed, retrying', { error: (err as Error).message });
      this.requestSync(1_000);
    }
  }

  private logLeaseChanges(peers: Lease[]): void {
    const now = new Map(peers.map((l) => [formatCIDR(l.subnet), JSON.stringify(l.attrs)]));
    for (const l of peers) {
      const k = formatCIDR(l.subnet);
      const before = this.known.get(k);
      if (before === undefined) this.log.info('peer lease added', describeLease(l));
      else if (before !== now.get(k)) this.log.info('peer lease changed', describeLease(l));
    }
    for (const k of this.known.keys()) if (!now.has(k)) this.log.info('peer lease removed', { subnet: k });
    this.known = now;
  }

  private async renew(why: string): Promise<void> {
    try {
      await this.manager!.renew();
      (this.manager!.acquiredAnew ? this.metrics.leaseAcquisitions : this.metrics.leaseRenewals).inc();
    } catch (err) {
      if (err instanceof SubnetLostError) {
        this.log.error('subnet lost', { error: err.message });
        this.fail(err);
        return;
      }
      this.metrics.etcdErrors.inc({ op: 'renew' });
      this.log.warn('lease renewal failed, retrying', { why, error: (err as Error).message });
    }
  }

  /** Renew at expiry − margin (or at a third of the TTL when the margin is longer than that). */
  private async renewLoop(): Promise<void> {
    const signal = this.stop.signal;
    const ttlMs = this.flags.subnetLeaseTtl * 1000;
    const renewBefore = Math.min(this.flags.subnetLeaseRenewMargin * 60_000, (ttlMs * 2) / 3);
    const backoff = new Backoff(1_000, 30_000);
    while (!signal.aborted) {
      const own = this.manager!.own!;
      await sleep(Math.max(0, own.expiresAt - renewBefore - Date.now()), signal);
      if (signal.aborted) return;
      const before = this.manager!.own!.expiresAt;
      await this.renew('renew margin reached');
      if (this.manager!.own!.expiresAt === before) await sleep(backoff.next(), signal);
      else backoff.reset();
    }
  }

  private async resyncLoop(): Promise<void> {
    while (!this.stop.signal.aborted) {
      await sleep(RESYNC_MS, this.stop.signal);
      this.requestSync(0);
    }
  }

  private async startWatch(): Promise<void> {
    const signal = this.stop.signal;
    this.watcher = await retry(
      () =>
        this.registry!.watch({
          changed: () => this.requestSync(),
          disconnected: (err) => {
            if (this.watchDown || signal.aborted) return;
            this.watchDown = true;
            this.log.warn('etcd watch lost, reconnecting', { error: err.message });
          },
          connected: () => {
            if (!this.watchDown) return;
            this.watchDown = false;
            this.metrics.watchReconnects.inc();
            this.log.info('etcd watch re-established', {});
            this.requestSync(0);
          },
        }),
      (err, delay) => this.log.warn('etcd watch not started, retrying', { error: err.message, retryInMs: delay }),
      signal,
    );
  }
}
