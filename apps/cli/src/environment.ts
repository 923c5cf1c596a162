import type { CliArgs } from './argv';

/** Everything the CLI takes from the environment, cnitool's variables plus a cache dir. */
export interface CliEnvironment {
  netConfPath: string;
  binDirs: string[];
  cniArgs: [string, string][];
  capabilityArgs?: Record<string, unknown>;
  ifName: string;
  cacheDir?: string;
  /** policy: TSCNI_ETCD_ENDPOINTS, TSCNI_ETCD_CAFILE, TSCNI_ETCD_CERTFILE, TSCNI_ETCD_KEYFILE (the flags win) */
  etcd: { endpoints?: string; cafile?: string; certfile?: string; keyfile?: string };
}

/** A bad variable: the message says which one and what it should look like. */
export class EnvironmentError extends Error {}

export function readEnvironment(env: NodeJS.ProcessEnv, args: CliArgs): CliEnvironment {
  return {
    netConfPath: env.NETCONFPATH || '/etc/cni/net.d',
    binDirs: (env.CNI_PATH ?? '').split(':').filter(Boolean),
    cniArgs: env.CNI_ARGS ? parseCniArgs(env.CNI_ARGS) : [],
    capabilityArgs: env.CAP_ARGS ? parseCapArgs(env.CAP_ARGS) : undefined,
    ifName: args.ifName || env.CNI_IFNAME || 'eth0',
    cacheDir: args.cacheDir || env.CNI_CACHE_DIR || undefined,
    etcd: {
      endpoints: args.etcdEndpoints ?? (env.TSCNI_ETCD_ENDPOINTS || undefined),
      cafile: args.etcdCafile ?? (env.TSCNI_ETCD_CAFILE || undefined),
      certfile: args.etcdCertfile ?? (env.TSCNI_ETCD_CERTFILE || undefined),
      keyfile: args.etcdKeyfile ?? (env.TSCNI_ETCD_KEYFILE || undefined),
    },
  };
}

/** cnitool's CNI_ARGS parsing: `K=V` pairs split on `;`, each with exactly one `=` and both sides non-empty. */
function parseCniArgs(raw: string): [string, string][] {
  return raw.split(';').map((pair) => {
    const kv = pair.split('=');
    if (kv.length !== 2 || !kv[0] || !kv[1])
      throw new EnvironmentError(`invalid CNI_ARGS pair ${JSON.stringify(pair)}: write CNI_ARGS as K1=V1;K2=V2`);
    return [kv[0], kv[1]];
  });
}

function parseCapArgs(raw: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new EnvironmentError(
      `CAP_ARGS is not valid JSON (${(e as Error).message}): write it as a JSON object, e.g. '{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}'`,
    );
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new EnvironmentError(
      'CAP_ARGS must be a JSON object of capability arguments, e.g. \'{"mac":"c2:11:22:33:44:55"}\'',
    );
  return v as Record<string, unknown>;
}
