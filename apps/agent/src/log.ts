/** Structured logs: one JSON object per line on stderr ({"time","level","msg",...fields}). */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export type Fields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export function jsonLogger(write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const log = (level: Level, msg: string, fields: Fields = {}) => {
    const entry: Fields = { time: new Date().toISOString(), level, msg };
    for (const [k, v] of Object.entries(fields)) entry[k] = v instanceof Error ? v.message : v;
    write(JSON.stringify(entry) + '\n');
  };
  return { info: (m, f) => log('info', m, f), warn: (m, f) => log('warn', m, f), error: (m, f) => log('error', m, f) };
}
