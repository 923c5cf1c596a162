/** Retry with exponential backoff and jitter (etcd unreachable: keep the data plane, try again later). */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export class Backoff {
  private attempt = 0;
  constructor(
    private readonly minMs = 500,
    private readonly maxMs = 30_000,
  ) {}

  /** The next delay: min · 2^attempt, capped, ±20 % jitter. */
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** this.attempt++);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** The agent was asked to stop while it waited. */
export class StoppedError extends Error {
  override name = 'StoppedError';
  constructor() {
    super('stopped');
  }
}

/** Run `fn` until it succeeds or `signal` aborts; `onError` sees each failure and the delay before the next try. */
export async function retry<T>(
  fn: () => Promise<T>,
  onError: (err: Error, delayMs: number) => void,
  signal: AbortSignal,
  backoff = new Backoff(),
): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted) throw new StoppedError();
      const delay = backoff.next();
      onError(err as Error, delay);
      await sleep(delay, signal);
      if (signal.aborted) throw new StoppedError();
    }
  }
}
