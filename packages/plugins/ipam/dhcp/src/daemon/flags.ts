import { DEFAULT_SOCKET_PATH } from '../rpc';

/** `dhcp daemon` flags, spelled like the reference's (Go `flag`: `-name value`, `-name=value`, `--name`). */
export interface DaemonFlags {
  socketPath: string;
  pidfile: string;
  hostPrefix: string;
  /** Where leases are persisted for a restart (ours; the reference keeps them in memory only). */
  stateDir: string;
  broadcast: boolean;
  timeoutMs: number;
  resendMaxMs: number;
  resendTimeoutMs: number;
}

export const DEFAULT_STATE_DIR = '/run/cni/dhcp-leases';

const DEFAULTS: DaemonFlags = {
  socketPath: DEFAULT_SOCKET_PATH,
  pidfile: '',
  hostPrefix: '',
  stateDir: DEFAULT_STATE_DIR,
  broadcast: false,
  timeoutMs: 10_000,
  resendMaxMs: 62_000,
  resendTimeoutMs: 208_000,
};

type Kind = 'string' | 'bool' | 'duration';
const FLAGS: Record<string, [keyof DaemonFlags, Kind]> = {
  socketpath: ['socketPath', 'string'],
  pidfile: ['pidfile', 'string'],
  hostprefix: ['hostPrefix', 'string'],
  statedir: ['stateDir', 'string'],
  broadcast: ['broadcast', 'bool'],
  timeout: ['timeoutMs', 'duration'],
  resendmax: ['resendMaxMs', 'duration'],
  resendtimeout: ['resendTimeoutMs', 'duration'],
};

export const USAGE = `Usage of daemon:
  -broadcast                ask servers to broadcast replies also while renewing
  -hostprefix string        prefix to the host root for the socket, state dir and netns paths
  -pidfile string           absolute path to write the daemon PID to
  -resendmax duration       longest delay between retransmissions (default 1m2s)
  -resendtimeout duration   give up acquiring a lease after this long (default 3m28s)
  -socketpath string        unix socket the plugin talks to (default ${DEFAULT_SOCKET_PATH})
  -statedir string          where leases are persisted for a restart (default ${DEFAULT_STATE_DIR})
  -timeout duration         how long to wait for each reply (default 10s)
`;

export const wantsHelp = (argv: readonly string[]): boolean => argv.some((a) => /^--?(h|help)$/.test(a));

export function parseDaemonFlags(argv: readonly string[]): DaemonFlags {
  const out: DaemonFlags = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--?([a-z]+)(?:=(.*))?$/.exec(arg);
    if (!m || !(m[1] in FLAGS)) throw new Error(`flag provided but not defined: ${arg}`);
    const [key, kind] = FLAGS[m[1]];
    let value = m[2];
    if (value === undefined && kind !== 'bool') {
      if (i + 1 >= argv.length) throw new Error(`flag needs an argument: -${m[1]}`);
      value = argv[++i];
    }
    if (kind === 'bool') {
      const v = (value ?? 'true').toLowerCase();
      if (!['1', 't', 'true', '0', 'f', 'false'].includes(v))
        throw new Error(`invalid boolean value ${JSON.stringify(value)} for -${m[1]}`);
      (out[key] as boolean) = ['1', 't', 'true'].includes(v);
    } else if (kind === 'duration') (out[key] as number) = parseDuration(value!, m[1]);
    else (out[key] as string) = value!;
  }
  return out;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go durations: `10s`, `1m30s`, `500ms`, `2h`. */
export function parseDuration(text: string, flag: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]];
    end = re.lastIndex;
  }
  if (!text || end !== text.length)
    throw new Error(`invalid value ${JSON.stringify(text)} for flag -${flag}: parse error`);
  return total;
}
