/** The command line: a verb, its positional arguments and a few flags. */
export interface CliArgs {
  command?: string;
  positional: string[];
  json: boolean;
  help: boolean;
  ifName?: string;
  cacheDir?: string;
  timeoutMs?: number;
  /** gc: attachments to keep, as `<containerID>/<ifname>` (ifname defaults to the interface name in use). */
  keep: string[];
  /** install: which build (`node` bundles or the `bun` executable; `--standalone` is `bun`); the build's default otherwise */
  runtime?: 'node' | 'bun';
  /** install: resident mode (docs/resident.md): the shim for the plugins tscni-plugind runs, the Bun executable for the others */
  resident: boolean;
  /** install: replace files that are not tscni's */
  force: boolean;
  /** install: where the plugins to install are */
  from?: string;
  /** install: the target directory (also accepted as the first positional argument) */
  dir?: string;
  /** install: which plugins, from `--plugins a,b` (also accepted as positional arguments) */
  plugins: string[];
  /** policy: -f/--filename FILE (YAML or JSON, `-` for stdin) */
  filename?: string;
  /** policy: -n/--namespace NS */
  namespace?: string;
  /** policy: --etcd-endpoints URL[,URL] */
  etcdEndpoints?: string;
  /** policy: --etcd-cafile/--etcd-certfile/--etcd-keyfile FILE (TLS to etcd, as tscni-agent's -etcd-* flags) */
  etcdCafile?: string;
  etcdCertfile?: string;
  etcdKeyfile?: string;
  /** policy: --policy-prefix KEY */
  policyPrefix?: string;
}

export class UsageError extends Error {}

const WITH_VALUE = new Set([
  '--runtime',
  '-i',
  '--ifname',
  '--cache-dir',
  '--timeout',
  '--keep',
  '--from',
  '--dir',
  '--plugins',
  '-f',
  '--filename',
  '-n',
  '--namespace',
  '--etcd-endpoints',
  '--etcd-cafile',
  '--etcd-certfile',
  '--etcd-keyfile',
  '--policy-prefix',
]);

export function parseArgv(argv: readonly string[]): CliArgs {
  const out: CliArgs = {
    positional: [],
    json: false,
    help: false,
    keep: [],
    resident: false,
    force: false,
    plugins: [],
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    if (WITH_VALUE.has(arg) && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
    }
    switch (arg) {
      case '--json':
        out.json = true;
        break;
      case '-h':
      case '--help':
        out.help = true;
        break;
      case '-i':
      case '--ifname':
        out.ifName = value;
        break;
      case '--cache-dir':
        out.cacheDir = value;
        break;
      case '--keep':
        out.keep.push(value!);
        break;
      // --standalone installed the Node SEA that the Bun executable replaced: kept for scripts, as --runtime bun.
      case '--standalone':
      case '--runtime': {
        const runtime = arg === '--standalone' ? 'bun' : value;
        if (runtime !== 'node' && runtime !== 'bun')
          throw new UsageError(`--runtime wants node or bun, got ${JSON.stringify(runtime)}`);
        if (out.runtime && out.runtime !== runtime)
          throw new UsageError(
            `--runtime ${runtime} contradicts --runtime ${out.runtime} (--standalone is --runtime bun)`,
          );
        out.runtime = runtime;
        break;
      }
      case '--resident':
        out.resident = true;
        break;
      case '--force':
        out.force = true;
        break;
      case '--from':
        out.from = value;
        break;
      case '--dir':
        out.dir = value;
        break;
      case '--plugins':
        out.plugins.push(
          ...value!
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean),
        );
        break;
      case '-f':
      case '--filename':
        out.filename = value;
        break;
      case '-n':
      case '--namespace':
        out.namespace = value;
        break;
      case '--etcd-endpoints':
        out.etcdEndpoints = value;
        break;
      case '--etcd-cafile':
        out.etcdCafile = value;
        break;
      case '--etcd-certfile':
        out.etcdCertfile = value;
        break;
      case '--etcd-keyfile':
        out.etcdKeyfile = value;
        break;
      case '--policy-prefix':
        out.policyPrefix = value;
        break;
      case '--timeout': {
        const seconds = Number(value);
        if (!Number.isFinite(seconds) || seconds <= 0)
          throw new UsageError(`--timeout wants a number of seconds, got ${JSON.stringify(value)}`);
        out.timeoutMs = Math.round(seconds * 1000);
        break;
      }
      default:
        if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
        if (out.command === undefined) out.command = arg;
        else out.positional.push(arg);
    }
  }
  return out;
}

export const USAGE = `tscni: add, check, remove, gc or get the status of network interfaces in a network namespace
  tscni add      <net> <netns>     ADD the network list <net> to the netns; prints the result
  tscni check    <net> <netns>     CHECK an attachment
  tscni del      <net> <netns>     DEL an attachment (uses the cached result)
  tscni gc       <net> [<netns>]   DEL cached attachments not kept with --keep <containerID>[/<ifname>], then GC
  tscni status   <net> [<netns>]   STATUS of every plugin of the list
  tscni validate [<net>]           what is wrong with the network list(s), one line per problem
  tscni ls                         networks in NETCONFPATH and cached attachments
  tscni install [--dir DIR] [--plugins a,b] [--runtime node|bun] [--force]  install plugins into a CNI bin dir (default /opt/cni/bin) atomically
  tscni install --resident [--dir DIR] [--plugins a,b] [--force]  the same, in resident mode (docs/resident.md)
  tscni policy apply -f FILE | delete NAME|-f FILE | ls | explain NS/POD | namespace NS [K=V...]
                                   NetworkPolicy objects in etcd (docs/policy.md); -n/--namespace NS,
                                   --etcd-endpoints URL[,URL] (or TSCNI_ETCD_ENDPOINTS), --policy-prefix KEY,
                                   TLS: --etcd-cafile, --etcd-certfile, --etcd-keyfile FILE (or TSCNI_ETCD_CAFILE,
                                   TSCNI_ETCD_CERTFILE, TSCNI_ETCD_KEYFILE)
Options: --json  -i/--ifname NAME  --cache-dir DIR  --timeout SECONDS  --keep ID[/IFNAME]
Environment: NETCONFPATH (default /etc/cni/net.d), CNI_PATH, CNI_ARGS (K=V;K=V), CAP_ARGS (JSON),
  CNI_IFNAME (default eth0), CNI_CACHE_DIR (default /var/lib/cni)
The container ID is cnitool's: "cnitool-" + the first 20 hex digits of sha512(absolute netns path).`;
