import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { hostname } from 'node:os';
import { EtcdConfigError, readEtcdTls, type EtcdConfig } from '@tscni/etcd';

/** Command-line settings; the names follow containerd's CRI plugin settings where one exists. */
export interface HarnessFlags {
  socket: string;
  cniConfDir: string;
  cniBinDirs: string[];
  cniCacheDir: string;
  stateDir: string;
  /** `embedded`: with no config in the conf dir, use the built-in bridge network; `none`: report NetworkReady=false. */
  defaultNetwork: 'embedded' | 'none';
  /** Call our own plugins in-process when CNI_PATH resolves to our build (off with --no-cni-in-process). */
  cniInProcess: boolean;
  /** Publish running pods to etcd for network policy (docs/policy.md); off when empty. */
  etcdEndpoints: string[];
  /** TLS to etcd: CA bundle, client certificate and key (as tscni-agent's -etcd-cafile/-certfile/-keyfile). */
  etcdCafile?: string;
  etcdCertfile?: string;
  etcdKeyfile?: string;
  policyPrefix: string;
  nodeName: string;
  help: boolean;
  version: boolean;
}

export const USAGE = `usage: cri-harness [flags]
  --socket PATH          unix socket to serve runtime.v1 on (default /run/tscni/cri.sock)
  --cni-conf-dir DIR     CNI network configs; the first valid one is the pod network (default /etc/cni/net.d)
  --cni-bin-dir DIRS     CNI plugin binaries, several separated by ':' (default /opt/cni/bin)
  --cni-cache-dir DIR    libcni result cache (default /var/lib/cni)
  --state-dir DIR        where the harness keeps its pod records (default /var/lib/tscni-cri)
  --default-network M    'embedded' (bridge + host-local + portmap + bandwidth + tuning when the conf dir
                         has no config; the default) or 'none' (NetworkReady stays false until a config appears)
  --no-cni-in-process    always exec the plugins; by default a plugin that resolves to our own build runs
                         inside the harness (same results, cache files and errors, no process start)
  --etcd-endpoints URLS  publish running pods (IP, namespace, labels, node) to etcd for network policy,
                         comma-separated http(s)://host:port (default: off)
  --etcd-cafile FILE     CA bundle that signed the etcd members' certificates (https:// endpoints)
  --etcd-certfile FILE   client certificate for an etcd run with --client-cert-auth (with --etcd-keyfile)
  --etcd-keyfile FILE    its private key
  --policy-prefix KEY    etcd prefix of the policy data (default /tscni/policy)
  --node-name NAME       the node name published with each pod (default: the hostname)
  --version, --help`;

export class FlagError extends Error {}

export function parseFlags(argv: string[]): HarnessFlags {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        socket: { type: 'string', default: '/run/tscni/cri.sock' },
        'cni-conf-dir': { type: 'string', default: '/etc/cni/net.d' },
        'cni-bin-dir': { type: 'string', default: '/opt/cni/bin' },
        'cni-cache-dir': { type: 'string', default: '/var/lib/cni' },
        'state-dir': { type: 'string', default: '/var/lib/tscni-cri' },
        'default-network': { type: 'string', default: 'embedded' },
        'no-cni-in-process': { type: 'boolean', default: false },
        'etcd-endpoints': { type: 'string', default: '' },
        'etcd-cafile': { type: 'string' },
        'etcd-certfile': { type: 'string' },
        'etcd-keyfile': { type: 'string' },
        'policy-prefix': { type: 'string', default: '/tscni/policy' },
        'node-name': { type: 'string', default: hostname() },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    throw new FlagError((e as Error).message);
  }
  const defaultNetwork = values['default-network'];
  if (defaultNetwork !== 'embedded' && defaultNetwork !== 'none')
    throw new FlagError(`--default-network must be 'embedded' or 'none', not ${JSON.stringify(defaultNetwork)}`);
  const etcd = etcdFlags(
    values['etcd-endpoints']!,
    values['etcd-cafile'],
    values['etcd-certfile'],
    values['etcd-keyfile'],
  );
  const policyPrefix = values['policy-prefix']!.replace(/\/+$/, '');
  if (!/^\/[A-Za-z0-9._/-]+$/.test(policyPrefix))
    throw new FlagError(`--policy-prefix: ${JSON.stringify(policyPrefix)} is not an absolute key path`);
  const nodeName = values['node-name']!;
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?$/.test(nodeName))
    throw new FlagError(`--node-name: ${JSON.stringify(nodeName)} is not a node name`);
  return {
    etcdEndpoints: etcd.endpoints,
    ...(etcd.cafile ? { etcdCafile: etcd.cafile } : {}),
    ...(etcd.certfile ? { etcdCertfile: etcd.certfile, etcdKeyfile: etcd.keyfile } : {}),
    policyPrefix,
    nodeName,
    socket: absolutePath('--socket', values.socket!),
    cniConfDir: absolutePath('--cni-conf-dir', values['cni-conf-dir']!),
    cniBinDirs: values['cni-bin-dir']!.split(':')
      .filter(Boolean)
      .map((d) => absolutePath('--cni-bin-dir', d)),
    cniCacheDir: absolutePath('--cni-cache-dir', values['cni-cache-dir']!),
    stateDir: absolutePath('--state-dir', values['state-dir']!),
    defaultNetwork,
    cniInProcess: !values['no-cni-in-process'],
    help: values.help!,
    version: values.version!,
  };
}

/** The etcd settings, checked and their TLS files read once here so that a missing or bad file stops start-up. */
function etcdFlags(endpoints: string, cafile?: string, certfile?: string, keyfile?: string): EtcdConfig {
  const c: EtcdConfig = {
    endpoints: endpoints
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean),
    cafile,
    certfile,
    keyfile,
  };
  if (!c.endpoints.length) {
    if (cafile ?? certfile ?? keyfile)
      throw new FlagError('--etcd-cafile, --etcd-certfile and --etcd-keyfile need --etcd-endpoints');
    return c;
  }
  try {
    readEtcdTls(c);
  } catch (e) {
    if (e instanceof EtcdConfigError) throw new FlagError(e.message);
    throw e;
  }
  for (const k of ['cafile', 'certfile', 'keyfile'] as const) if (c[k]) c[k] = absolutePath(`--etcd-${k}`, c[k]!);
  return c;
}

/** Relative paths are resolved against the working directory; control characters are refused. */
function absolutePath(flag: string, value: string): string {
  if (!value || /[\x00-\x1f]/.test(value)) throw new FlagError(`${flag}: invalid path ${JSON.stringify(value)}`);
  return isAbsolute(value) ? resolve(value) : resolve(process.cwd(), value);
}
