import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { PodSandboxConfig } from './cri-types';
import { CriError, invalidArgument } from './cri-error';
import { log, logged, type StepTimes } from './log';
import { PodNetworks, type PodAttachment } from './cni';
import { podCniArgs, type PodCniArgs } from './pod-cni-args';
import { podIPs } from './pod-ips';
import { createPodNetns, newPodNetnsPath, reachableNetns, removePodNetns } from './pod-netns';
import { findOrphanPauses, pauseAlive, startPause, stopPause } from './pause';
import { applySysctls, planSysctls, type SysctlPlan } from './pod-sysctls';
import { SandboxStore, type SandboxRecord } from './sandbox-store';
import type { PodPublisher } from './pod-publisher';
import { networkMode, validatePodConfig } from './validate-config';

/** Unix time in nanoseconds (microsecond resolution), as the decimal string CRI's int64 fields carry. */
const nowNs = (): string => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000) * 1000).toString();

const cancelled = () =>
  new CriError(
    status.CANCELLED,
    'RunPodSandbox was cancelled by the client (crictl gives runp 2×--timeout, 4 s by default: try -t 10s)',
  );

/**
 * The pod sandbox lifecycle: reserve the name, pin a netns, then start the pause process and ADD the networks
 * side by side (both need only the netns; containerd ADDs before it starts the sandbox); on any failure (or a
 * cancelled call) undo all of it. Stop kills the pause process, DELs the networks and removes the netns, and
 * fails — keeping netns and cache — when DEL fails, so the caller retries. What RunPodSandbox makes is recorded
 * (atomically) before it is made, so a kill -9 anywhere is recovered, and the READY record is fsynced before the
 * call answers; stop and remove only undo, idempotently, so they save the record once, at their end.
 */
export class SandboxManager {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    readonly store: SandboxStore,
    readonly networks: PodNetworks,
    private readonly stateDir: string,
    private readonly publisher?: PodPublisher,
  ) {}

  /** RunPodSandbox: the new sandbox's id once it is READY. */
  async run(config: PodSandboxConfig | null, runtimeHandler: string, signal?: AbortSignal): Promise<SandboxRecord> {
    validatePodConfig(config);
    if (runtimeHandler) throw invalidArgument(`no runtime for "${runtimeHandler}" is configured`);
    const sysctls = planSysctls(config, networkMode(config));
    const id = randomBytes(32).toString('hex');
    // Pods on the pod network (not NODE): the CNI arguments are checked and the network chosen up front.
    let network: { confList: string; cniArgs: PodCniArgs } | undefined;
    if (networkMode(config) !== 'NODE') {
      const cniArgs = podCniArgs(id, config);
      const net = this.networks.defaultNetwork();
      if (!net)
        throw new CriError(
          status.FAILED_PRECONDITION,
          'failed to setup network for sandbox: cni plugin not initialized',
        );
      network = { confList: net.confList, cniArgs };
    }
    const rec: SandboxRecord = { id, config, runtimeHandler, createdAt: nowNs(), state: 'creating' };
    this.store.reserve(rec);
    const fields = { sandbox: id, name: config.metadata.name, namespace: config.metadata.namespace };
    const outcome = (r: SandboxRecord) => ({ netns: r.netns ?? '', ip: r.network?.ip ?? '', pausePid: r.pause?.pid });
    return this.serialized(id, () =>
      logged('RunPodSandbox', fields, (steps) => this.create(rec, network, sysctls, steps, signal), outcome),
    );
  }

  /** Netns, pause process, networks, sysctls — each recorded before it is made; any failure or a cancel undoes them all. */
  private async create(
    rec: SandboxRecord,
    network: { confList: string; cniArgs: PodCniArgs } | undefined,
    sysctls: SysctlPlan,
    steps: StepTimes,
    signal?: AbortSignal,
  ): Promise<SandboxRecord> {
    const save = () => steps.timeSync('save', () => this.store.save(rec));
    try {
      if (network) rec.netns = newPodNetnsPath();
      save();
      if (network) {
        await steps.time('netns', () => createPodNetns(rec.netns!));
        rec.network = { confList: network.confList, attached: true };
        save();
      }
      const pause = steps
        .time('pause', () =>
          startPause({ sandboxId: rec.id, stateDir: this.stateDir, netns: rec.netns, hostname: rec.config.hostname }),
        )
        .then((p) => {
          // Not saved by itself: a crash before the commit leaves it to the orphan sweep (its environment names the pod).
          rec.pause = p;
        });
      const attach = network
        ? steps.time('cni', () =>
            this.networks.setup(
              network.confList,
              { containerID: rec.id, netNS: rec.netns!, ...network.cniArgs },
              signal,
            ),
          )
        : undefined;
      // Both settle before anything is undone: a rollback must not DEL while ADD still runs, nor miss the pause.
      const [started, added] = await Promise.allSettled([pause, attach]);
      if (started.status === 'rejected') throw started.reason;
      if (added.status === 'rejected') throw added.reason;
      if (added.value) rec.network = { ...rec.network!, result: added.value, ...podIPs(added.value) };
      // After the network, as runc applies them when containerd starts the sandbox (eth0's own keys exist by then).
      if (sysctls.net.length || sysctls.ipc.length)
        await steps.time('sysctls', () => applySysctls(sysctls, rec.netns, rec.pause!.pid));
      if (signal?.aborted) throw cancelled();
      rec.state = 'ready';
      await steps.time('commit', () => this.store.commit(rec));
      await this.publisher?.published(rec);
      return rec;
    } catch (err) {
      const why = signal?.aborted ? cancelled() : (err as Error);
      await this.rollback(rec, why, steps);
      throw why;
    }
  }

  /** StopPodSandbox: idempotent; NOT_FOUND for an unknown id; an error when DEL fails (retry it). */
  async stop(idOrPrefix: string): Promise<void> {
    const rec = this.store.get(idOrPrefix);
    await this.serialized(rec.id, () =>
      logged('StopPodSandbox', { sandbox: rec.id }, (steps) => this.teardown(rec, steps)),
    );
  }

  /** RemovePodSandbox: an unknown id is fine; otherwise a full stop, then the record and its name go. */
  async remove(idOrPrefix: string): Promise<void> {
    const rec = this.store.find(idOrPrefix);
    if (!rec) return;
    await this.serialized(rec.id, () =>
      logged('RemovePodSandbox', { sandbox: rec.id }, async (steps) => {
        await this.teardown(rec, steps);
        steps.timeSync('save', () => this.store.delete(rec));
      }),
    );
    this.queues.delete(rec.id);
  }

  /** READY only while RunPodSandbox completed and the pause process is still alive. */
  isReady(rec: SandboxRecord): boolean {
    return rec.state === 'ready' && (!rec.pause || pauseAlive(rec.pause));
  }

  /** Start-up: roll back sandboxes a crash left half-created, kill pause processes nobody owns. */
  async recover(): Promise<void> {
    const records = this.store.load((file, why) =>
      log('warn', 'unreadable sandbox record skipped', { file, error: why }),
    );
    for (const rec of records) {
      if (rec.state !== 'creating') continue;
      await logged(
        'RecoverPodSandbox',
        { sandbox: rec.id, action: 'rollback of an unfinished RunPodSandbox' },
        (steps) => this.rollback(rec, new Error('harness restarted during RunPodSandbox'), steps),
      );
    }
    const owned = (sandbox: string, pid: number) =>
      this.store.list().some((r) => r.id === sandbox && r.pause?.pid === pid);
    for (const pid of findOrphanPauses(this.stateDir, owned)) {
      try {
        process.kill(pid, 'SIGKILL');
        log('info', 'KillOrphanPause', { pid });
      } catch {
        /* gone meanwhile */
      }
    }
    log('info', 'Recovered', { sandboxes: this.store.list().length });
  }

  /** Undo a RunPodSandbox that failed; when teardown itself fails keep the sandbox NOTREADY for a later stop/remove. */
  private async rollback(rec: SandboxRecord, cause: Error, steps: StepTimes): Promise<void> {
    try {
      await this.teardown(rec, steps);
    } catch (e) {
      rec.state = 'notready';
      await this.store.commit(rec);
      log('error', 'RollbackFailed', { sandbox: rec.id, cause: cause.message, error: (e as Error).message });
      return;
    }
    this.store.delete(rec);
  }

  /**
   * Kill the pause process, DEL the networks, remove the netns: each step skipped once done. Each is idempotent and
   * keyed by what RunPodSandbox recorded, so a crash anywhere in here is recovered by doing it again: the record is
   * saved once, when teardown ends or fails, and not fsynced (losing that write to a power loss only repeats it).
   */
  private async teardown(rec: SandboxRecord, steps: StepTimes): Promise<void> {
    let changed = false;
    try {
      await this.publisher?.withdrawn(rec);
      if (rec.pause) await steps.time('pause', () => stopPause(rec.pause!));
      if (rec.state === 'ready') {
        rec.state = 'notready';
        changed = true;
      }
      if (rec.network?.attached && rec.netns) {
        // As containerd: a netns that is no longer one gets DEL with an empty CNI_NETNS, so IPAM and host-side
        // state are still released (and stop/remove end) instead of failing on every retry.
        const holders = this.store.list().flatMap((r) => (r.pause && pauseAlive(r.pause) ? [r.pause.pid] : []));
        const netNS = reachableNetns(rec.netns, holders);
        if (netNS !== rec.netns)
          log('warn', 'NetnsLost', { sandbox: rec.id, netns: rec.netns, using: netNS || '(empty CNI_NETNS)' });
        try {
          await steps.time('cni', () =>
            this.networks.teardown(rec.network!.confList, { ...this.attachment(rec), netNS }),
          );
        } catch (e) {
          throw new CriError(
            status.UNKNOWN,
            `failed to destroy network for sandbox "${rec.id}": ${(e as Error).message}`,
          );
        }
        rec.network.attached = false;
        changed = true;
      }
      if (rec.netns && !rec.netnsRemoved) {
        await steps.time('netns', () => removePodNetns(rec.netns!));
        rec.netnsRemoved = true;
        changed = true;
      }
    } finally {
      if (changed) steps.timeSync('save', () => this.store.save(rec));
    }
  }

  private attachment(rec: SandboxRecord): PodAttachment {
    return { containerID: rec.id, netNS: rec.netns!, ...podCniArgs(rec.id, rec.config) };
  }

  /** Operations on one sandbox run one at a time, in call order. */
  private serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.queues.set(
      id,
      next.catch(() => {}),
    );
    return next;
  }
}
