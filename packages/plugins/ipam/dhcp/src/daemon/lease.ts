import type { LeaseRequest } from '../rpc';
import { bindingFromAck, type Binding } from './ack';
import {
  BROADCAST_ADDRESS,
  discoverAndRequest,
  rebind,
  release,
  renew,
  type ClientContext,
  type Reply,
} from './client';
import { listen } from './exchange';
import type { Packet } from './packet';
import { clientSocketIn } from './netns-socket';
import { dropBroadcastRoute, prepareForBroadcast, setLinkDown } from './pod-link';
import { backoffDelays, sleep } from './retry';

export interface LeaseSettings {
  timeoutMs: number;
  resendMaxMs: number;
  resendTimeoutMs: number;
  broadcast: boolean;
}

export type LeaseState = 'init' | 'bound' | 'renewing' | 'rebinding' | 'expired' | 'released';

/** What is persisted per lease, so a restarted daemon can pick it up. */
export interface LeaseRecord {
  req: LeaseRequest;
  mac: string;
  state: LeaseState;
  binding?: Binding;
}

export interface LeaseHooks {
  persist(lease: Lease): void;
  /** Run `fn` while no other lease of `netns` is broadcasting (they share the limited-broadcast route). */
  exclusive<T>(netns: string, fn: () => Promise<T>): Promise<T>;
  log(msg: string): void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const MIN_RETRY_MS = 1000;

/**
 * One attachment's lease, driven by timers on the daemon's event loop (no thread, no process):
 * bound → T1 renew (unicast) → T2 rebind (broadcast; a NAK re-acquires) → expiry takes the link down.
 */
export class Lease {
  state: LeaseState = 'init';
  binding?: Binding;
  private ctx?: ClientContext;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly req: LeaseRequest,
    private readonly settings: LeaseSettings,
    private readonly hooks: LeaseHooks,
    public mac = '',
  ) {}

  get id(): string {
    return this.req.clientID;
  }

  record(): LeaseRecord {
    return { req: this.req, mac: this.mac, state: this.state, ...(this.binding ? { binding: this.binding } : {}) };
  }

  /** First acquisition (DISCOVER/OFFER/REQUEST/ACK), retried with backoff until `-resendtimeout`. */
  async acquire(): Promise<void> {
    const { netns, ifName } = this.req;
    await this.hooks.exclusive(netns, async () => {
      try {
        // The helper that opens the socket and the `ip` batch are separate processes: start both at once.
        const [prepared, opened] = await Promise.allSettled([prepareForBroadcast(netns, ifName, true), this.open()]);
        if (prepared.status === 'rejected') throw prepared.reason;
        if (opened.status === 'rejected') throw opened.reason;
        this.mac = this.ctx!.mac = prepared.value;
        const deadline = Date.now() + this.settings.resendTimeoutMs;
        let lastError = 'no DHCP offer received';
        for (const delay of backoffDelays(this.settings.resendMaxMs)) {
          const started = Date.now();
          const reply = await this.attempt(() => discoverAndRequest(this.ctx!));
          if (reply && 'ack' in reply) return this.commit(reply.ack, started);
          if (reply) lastError = `DHCP server NACK'd own offer: ${reply.nak}`;
          if (Date.now() + delay >= deadline) break;
          this.hooks.log(`${this.id}: ${lastError}, retrying in ${(delay / 1000).toFixed(1)}s`);
          await sleep(delay);
        }
        throw new Error(`${this.id}: no lease acquired on ${ifName}: ${lastError}`);
      } finally {
        await dropBroadcastRoute(netns, ifName);
      }
    });
  }

  /** Resume a persisted lease after a daemon restart. */
  async resume(): Promise<void> {
    if (this.state === 'expired') return;
    await this.open();
    this.hooks.log(
      `${this.id}: resumed ${this.state} lease of ${this.binding?.ip}, expiring ${new Date(this.binding!.expiresAt).toISOString()}`,
    );
    this.schedule();
  }

  /**
   * Stop maintaining the lease and tell the server (DHCPRELEASE) while the address is still ours. When
   * the server cannot be reached by unicast (the address was never configured), the release is broadcast.
   */
  async release(): Promise<void> {
    clearTimeout(this.timer);
    const wasHeld = this.binding && this.state !== 'expired' && this.state !== 'released';
    this.state = 'released';
    if (wasHeld && this.ctx) {
      const { ip, serverID } = this.binding!;
      try {
        await release(this.ctx, ip, serverID).catch(() =>
          this.hooks.exclusive(this.req.netns, async () => {
            await prepareForBroadcast(this.req.netns, this.req.ifName, false);
            try {
              await release(this.ctx!, ip, serverID, BROADCAST_ADDRESS);
            } finally {
              await dropBroadcastRoute(this.req.netns, this.req.ifName);
            }
          }),
        );
        this.hooks.log(`${this.id}: released ${ip}`);
      } catch (err) {
        this.hooks.log(`${this.id}: failed to send DHCPRELEASE: ${(err as Error).message}`);
      }
    }
    this.close();
  }

  /** Forget the lease without telling anyone (daemon shutdown keeps leases for the next start). */
  detach(): void {
    clearTimeout(this.timer);
    this.close();
  }

  private async open(): Promise<void> {
    if (this.ctx) return;
    const sock = await clientSocketIn(this.req.netns);
    listen(sock);
    sock.unref();
    const s = this.settings;
    this.ctx = {
      sock,
      mac: this.mac,
      clientID: this.req.clientID,
      request: this.req.request,
      provide: this.req.provide,
      broadcast: s.broadcast,
      timeoutMs: s.timeoutMs,
    };
  }

  private close(): void {
    try {
      this.ctx?.sock.close();
    } catch {
      /* already closed */
    }
    this.ctx = undefined;
  }

  private async attempt(fn: () => Promise<Reply>): Promise<Reply> {
    try {
      return await fn();
    } catch (err) {
      this.hooks.log(`${this.id}: ${(err as Error).message}`);
      return undefined;
    }
  }

  private commit(ack: Packet, sentAt: number): void {
    this.binding = bindingFromAck(ack, sentAt);
    this.state = 'bound';
    this.hooks.persist(this);
    this.hooks.log(
      `${this.id}: bound ${this.binding.ip}/${this.binding.prefix}, renew ${iso(this.binding.renewAt)}, expires ${iso(this.binding.expiresAt)}`,
    );
    this.schedule();
  }

  /**
   * Bound: the next step is T1's renewal — at once when T1 is already past (a lease resumed after a restart; step()
   * then renews, rebinds or expires by the clock). Renewing or rebinding: retry at half the time left to the next
   * boundary (at least MIN_RETRY_MS, at most -resendmax), never past it.
   */
  private schedule(): void {
    clearTimeout(this.timer);
    const b = this.binding!;
    const now = Date.now();
    let delay: number;
    if (this.state === 'bound') delay = Math.max(0, b.renewAt - now);
    else {
      const due = Math.max(0, (now >= b.rebindAt ? b.expiresAt : b.rebindAt) - now);
      delay = Math.min(Math.max(MIN_RETRY_MS, Math.min(due / 2, this.settings.resendMaxMs)), due);
    }
    this.timer = setTimeout(() => void this.step(), Math.min(delay, MAX_TIMER_MS));
  }

  /**
   * One timer tick: renew (unicast) before T2, rebind (broadcast) before expiry, else expire. A NAK at
   * either stage means the address is no longer ours: start over with DISCOVER (re-acquire).
   */
  private async step(): Promise<void> {
    if (this.released || !this.binding || !this.ctx) return;
    const b = this.binding;
    const now = Date.now();
    try {
      if (now >= b.expiresAt) return await this.expire();
      const rebinding = now >= b.rebindAt;
      this.enter(rebinding ? 'rebinding' : 'renewing');
      let reply = rebinding
        ? await this.broadcasting(() => rebind(this.ctx!, b.ip))
        : await this.attempt(() => renew(this.ctx!, b.ip, b.serverID));
      if (reply && 'nak' in reply && !this.released) {
        this.hooks.log(`${this.id}: ${reply.nak}; re-acquiring`);
        reply = await this.broadcasting(() => discoverAndRequest(this.ctx!));
      }
      this.afterReply(reply, now);
    } catch (err) {
      this.hooks.log(`${this.id}: ${(err as Error).message}`);
      if (!this.released) this.schedule();
    }
  }

  /** An exchange that broadcasts: holds the namespace's limited-broadcast route meanwhile. */
  private broadcasting(fn: () => Promise<Reply>): Promise<Reply> {
    return this.hooks.exclusive(this.req.netns, async () => {
      await prepareForBroadcast(this.req.netns, this.req.ifName, false);
      try {
        return await this.attempt(fn);
      } finally {
        await dropBroadcastRoute(this.req.netns, this.req.ifName);
      }
    });
  }

  private afterReply(reply: Reply, sentAt: number): void {
    if (this.released) return;
    if (reply && 'ack' in reply) {
      const before = this.binding?.ip;
      this.commit(reply.ack, sentAt);
      if (before && before !== this.binding!.ip)
        this.hooks.log(`${this.id}: re-acquired a different address ${this.binding!.ip} (was ${before})`);
      return;
    }
    this.schedule();
  }

  /** Release can happen while a renewal is in flight. */
  private get released(): boolean {
    return this.state === 'released';
  }

  private enter(state: LeaseState): void {
    if (this.state === state) return;
    this.state = state;
    this.hooks.log(`${this.id}: ${state} lease of ${this.binding!.ip}`);
  }

  private async expire(): Promise<void> {
    this.state = 'expired';
    this.hooks.log(`${this.id}: lease expired, bringing interface ${this.req.ifName} DOWN`);
    this.hooks.persist(this);
    try {
      await setLinkDown(this.req.netns, this.req.ifName);
    } catch (err) {
      this.hooks.log(`${this.id}: failed to bring ${this.req.ifName} DOWN: ${(err as Error).message}`);
    }
    this.close();
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();
