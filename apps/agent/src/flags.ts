/**
 * flanneld's command line, parsed with Go's `flag` package rules: `-name=value`, `-name value`,
 * `--name` and `--name=value` all work; a boolean takes no separate value (`-ip-masq`, `-ip-masq=false`);
 * `--` or the first non-flag ends the flags. As flanneld does, FLANNELD_<NAME> environment variables
 * (dashes as underscores) supply a flag that the command line leaves out.
 */
import { etcdConfigProblems } from '@tscni/etcd';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface AgentFlags {
  etcdEndpoints: string[];
  etcdPrefix: string;
  etcdCafile?: string;
  etcdCertfile?: string;
  etcdKeyfile?: string;
  etcdUsername?: string;
  etcdPassword?: string;
  iface: string[];
  publicIp?: string;
  publicIpv6?: string;
  subnetFile: string;
  ipMasq: boolean;
  /** Minutes before the lease expires at which it is renewed (flanneld's default: 60). */
  subnetLeaseRenewMargin: number;
  /** Not flanneld's: the etcd lease TTL in seconds (flannel's is fixed at 24 h; tests shorten it). */
  subnetLeaseTtl: number;
  /** Not flanneld's: where the Prometheus /metrics endpoint listens (host:port); none when empty. */
  metricsAddr: string;
  /** Not flanneld's: on SIGTERM/SIGINT give the subnet back and remove the routes, device and masquerade rules. */
  cleanupOnExit: boolean;
  /** Not flanneld's: where the node's own lease is remembered across restarts. */
  stateFile: string;
  iptablesForwardRules: boolean;
  /** Not flanneld's: enforce the NetworkPolicy objects stored under -policy-prefix with nftables. */
  networkPolicy: boolean;
  policyPrefix: string;
  help: boolean;
  version: boolean;
}

type Kind = 'string' | 'list' | 'bool' | 'int';
interface Spec {
  key: keyof AgentFlags;
  kind: Kind;
  usage: string;
}

const SPECS: Record<string, Spec> = {
  'etcd-endpoints': { key: 'etcdEndpoints', kind: 'list', usage: 'a comma-delimited list of etcd endpoints' },
  'etcd-prefix': { key: 'etcdPrefix', kind: 'string', usage: 'etcd prefix' },
  'etcd-cafile': {
    key: 'etcdCafile',
    kind: 'string',
    usage: 'SSL Certificate Authority file used to secure etcd communication',
  },
  'etcd-certfile': {
    key: 'etcdCertfile',
    kind: 'string',
    usage: 'SSL certification file used to secure etcd communication',
  },
  'etcd-keyfile': { key: 'etcdKeyfile', kind: 'string', usage: 'SSL key file used to secure etcd communication' },
  'etcd-username': { key: 'etcdUsername', kind: 'string', usage: 'username for BasicAuth to etcd' },
  'etcd-password': { key: 'etcdPassword', kind: 'string', usage: 'password for BasicAuth to etcd' },
  iface: {
    key: 'iface',
    kind: 'list',
    usage: 'interface to use (IP or name) for inter-host communication; may be repeated',
  },
  'public-ip': { key: 'publicIp', kind: 'string', usage: 'IP accessible by other nodes for inter-host communication' },
  'public-ipv6': {
    key: 'publicIpv6',
    kind: 'string',
    usage: 'IPv6 accessible by other nodes for inter-host communication',
  },
  'subnet-file': {
    key: 'subnetFile',
    kind: 'string',
    usage: 'filename where env variables (subnet, MTU, ...) will be written to',
  },
  'ip-masq': {
    key: 'ipMasq',
    kind: 'bool',
    usage: 'setup IP masquerade rule for traffic destined outside of overlay network',
  },
  'subnet-lease-renew-margin': {
    key: 'subnetLeaseRenewMargin',
    kind: 'int',
    usage: 'subnet lease renewal margin, in minutes',
  },
  'subnet-lease-ttl': { key: 'subnetLeaseTtl', kind: 'int', usage: 'subnet lease TTL in seconds (tscni-agent only)' },
  'metrics-addr': {
    key: 'metricsAddr',
    kind: 'string',
    usage: 'host:port of the Prometheus /metrics endpoint (tscni-agent only)',
  },
  'cleanup-on-exit': {
    key: 'cleanupOnExit',
    kind: 'bool',
    usage: 'release the lease and remove routes, device and rules on SIGTERM (tscni-agent only)',
  },
  'state-file': {
    key: 'stateFile',
    kind: 'string',
    usage: "file remembering the node's lease across restarts (tscni-agent only)",
  },
  'iptables-forward-rules': {
    key: 'iptablesForwardRules',
    kind: 'bool',
    usage: 'add default accept rules to FORWARD chain in iptables',
  },
  'network-policy': {
    key: 'networkPolicy',
    kind: 'bool',
    usage: 'enforce NetworkPolicy objects from etcd with nftables (tscni-agent only)',
  },
  'policy-prefix': {
    key: 'policyPrefix',
    kind: 'string',
    usage: 'etcd prefix of pods, namespaces and policies (tscni-agent only)',
  },
  help: { key: 'help', kind: 'bool', usage: 'print this message' },
  h: { key: 'help', kind: 'bool', usage: 'print this message' },
  version: { key: 'version', kind: 'bool', usage: 'print version and exit' },
};

export const defaults = (): AgentFlags => ({
  etcdEndpoints: ['http://127.0.0.1:2379', 'http://127.0.0.1:4001'],
  etcdPrefix: '/coreos.com/network',
  iface: [],
  subnetFile: '/run/flannel/subnet.env',
  ipMasq: false,
  subnetLeaseRenewMargin: 60,
  subnetLeaseTtl: 24 * 3600,
  metricsAddr: '',
  cleanupOnExit: false,
  stateFile: '/var/lib/tscni-agent/lease.json',
  iptablesForwardRules: true,
  networkPolicy: false,
  policyPrefix: '/tscni/policy',
  help: false,
  version: false,
});

export function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv = {}): AgentFlags {
  const flags = defaults() as unknown as Record<string, unknown>;
  const seen = new Set<string>();
  const set = (name: string, spec: Spec, value: string, from: string) => {
    flags[spec.key] = convert(name, spec, value, from, flags[spec.key], seen.has(spec.key));
    seen.add(spec.key);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-') throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = SPECS[name];
    if (!spec) throw new UsageError(`flag provided but not defined: -${name}`);
    if (eq >= 0) set(name, spec, body.slice(eq + 1), 'flag');
    else if (spec.kind === 'bool') set(name, spec, 'true', 'flag');
    else if (i + 1 < argv.length) set(name, spec, argv[++i], 'flag');
    else throw new UsageError(`flag needs an argument: -${name}`);
  }
  for (const [name, spec] of Object.entries(SPECS)) {
    const value = env[`FLANNELD_${name.toUpperCase().replace(/-/g, '_')}`];
    if (value !== undefined && !seen.has(spec.key)) set(name, spec, value, 'environment');
  }
  return flags as unknown as AgentFlags;
}

function convert(name: string, spec: Spec, value: string, from: string, current: unknown, repeated: boolean): unknown {
  switch (spec.kind) {
    case 'string':
      return value;
    case 'list': {
      const items = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      return repeated ? [...(current as string[]), ...items] : items;
    }
    case 'bool': {
      // Go's strconv.ParseBool.
      if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
      if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
      throw new UsageError(`invalid boolean value ${JSON.stringify(value)} for -${name} (${from})`);
    }
    case 'int': {
      if (!/^[+-]?\d+$/.test(value))
        throw new UsageError(`invalid value ${JSON.stringify(value)} for -${name} (${from}): not an integer`);
      return Number(value);
    }
  }
}

export function usage(): string {
  const rows = Object.entries(SPECS).map(
    ([name, s]) => `  -${name}${s.kind === 'bool' ? '' : ` ${s.kind === 'int' ? 'int' : 'string'}`}\n    \t${s.usage}`,
  );
  return `Usage: tscni-agent [OPTION]...\n${rows.join('\n')}\n`;
}

/** Checks that flags are coherent; returns the problems (empty when fine). */
export function checkFlags(f: AgentFlags): string[] {
  const problems: string[] = [];
  problems.push(
    ...etcdConfigProblems(
      { endpoints: f.etcdEndpoints, cafile: f.etcdCafile, certfile: f.etcdCertfile, keyfile: f.etcdKeyfile },
      '-',
    ),
  );
  if (!f.etcdPrefix.startsWith('/')) problems.push('-etcd-prefix must start with /');
  if (!/^\/[A-Za-z0-9._\/-]*[A-Za-z0-9._-]$/.test(f.policyPrefix))
    problems.push('-policy-prefix must be an absolute key path like /tscni/policy');
  if (f.subnetLeaseTtl < 5) problems.push('-subnet-lease-ttl must be at least 5 seconds');
  if (f.subnetLeaseRenewMargin < 1) problems.push('-subnet-lease-renew-margin must be at least 1 minute');
  if (f.metricsAddr && !/^[^\s]*:\d+$/.test(f.metricsAddr))
    problems.push(`-metrics-addr ${JSON.stringify(f.metricsAddr)} is not host:port`);
  return problems;
}
