/** One JSON line per event on stderr: `{"time","level","msg",…fields}`. */
export type LogFields = Record<string, unknown>;

export function log(level: 'info' | 'warn' | 'error', msg: string, fields: LogFields = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

/** Time `fn` and log one line for the pod event with its duration and outcome. */
export async function logged<T>(
  event: string,
  fields: LogFields,
  fn: () => Promise<T>,
  extra: (value: T) => LogFields = () => ({}),
): Promise<T> {
  const start = performance.now();
  try {
    const value = await fn();
    log('info', event, { ...fields, ...extra(value), durationMs: Math.round(performance.now() - start) });
    return value;
  } catch (err) {
    log('error', event, {
      ...fields,
      error: (err as Error).message,
      durationMs: Math.round(performance.now() - start),
    });
    throw err;
  }
}
