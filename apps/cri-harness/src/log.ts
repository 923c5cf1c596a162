/** One JSON line per event on stderr: `{"time","level","msg",…fields}`. */
export type LogFields = Record<string, unknown>;

export function log(level: 'info' | 'warn' | 'error', msg: string, fields: LogFields = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

/**
 * Milliseconds spent in each named step of one pod event, for its log line (`steps`): where a slow RunPodSandbox
 * went. Steps may overlap (the pause process starts while the network is ADDed); a step taken twice adds up.
 */
export class StepTimes {
  readonly ms: Record<string, number> = {};

  async time<T>(step: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.add(step, start);
    }
  }

  timeSync<T>(step: string, fn: () => T): T {
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.add(step, start);
    }
  }

  private add(step: string, start: number): void {
    this.ms[step] = Math.round(((this.ms[step] ?? 0) + performance.now() - start) * 10) / 10;
  }
}

/** Time `fn` and log one line for the pod event with its duration, its steps' times and outcome. */
export async function logged<T>(
  event: string,
  fields: LogFields,
  fn: (steps: StepTimes) => Promise<T>,
  extra: (value: T) => LogFields = () => ({}),
): Promise<T> {
  const start = performance.now();
  const steps = new StepTimes();
  const timed = () => (Object.keys(steps.ms).length ? { steps: steps.ms } : {});
  try {
    const value = await fn(steps);
    log('info', event, { ...fields, ...extra(value), durationMs: Math.round(performance.now() - start), ...timed() });
    return value;
  } catch (err) {
    log('error', event, {
      ...fields,
      error: (err as Error).message,
      durationMs: Math.round(performance.now() - start),
      ...timed(),
    });
    throw err;
  }
}
