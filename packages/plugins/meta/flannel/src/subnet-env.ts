import { readFileSync } from 'node:fs';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import { formatCIDR, networkOf, parseCIDR } from '@tscni/net/host/ipaddr';

/** What flanneld writes to subnet.env for this node. */
export interface SubnetEnv {
  networks: string[];
  subnet?: string;
  ipv6Networks: string[];
  ipv6Subnet?: string;
  mtu: number;
  ipMasq: boolean;
}

/** Parse `KEY=VALUE` lines; every missing required key is named in the error. */
export function loadSubnetEnv(path: string): SubnetEnv {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(
      `failed to load flannel 'subnet.env' file: ${(err as Error).message}. Check the flannel pod status.`,
    );
  }
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  // flanneld writes the node's gateway address (10.244.3.1/24); the delegate gets the network (10.244.3.0/24).
  const network = (key: string, text: string) => {
    const cidr = parseCIDR(text);
    if (!cidr) throw new CniError(ErrorCode.InvalidNetworkConfig, `${path}: invalid ${key} ${JSON.stringify(text)}`);
    return formatCIDR(networkOf(cidr));
  };
  const list = (key: string) => [
    ...new Set(
      (kv.get(key) ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => network(key, s)),
    ),
  ];
  const one = (key: string) => (kv.get(key) ? network(key, kv.get(key)!) : undefined);
  const missing: string[] = [];
  const networks = list('FLANNEL_NETWORK');
  const ipv6Networks = list('FLANNEL_IPV6_NETWORK');
  if (!networks.length && !ipv6Networks.length) missing.push('FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK');
  if (!kv.get('FLANNEL_SUBNET') && !kv.get('FLANNEL_IPV6_SUBNET')) missing.push('FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET');
  const mtu = Number(kv.get('FLANNEL_MTU'));
  if (!kv.has('FLANNEL_MTU')) missing.push('FLANNEL_MTU');
  else if (!Number.isInteger(mtu) || mtu <= 0)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `${path}: invalid FLANNEL_MTU ${JSON.stringify(kv.get('FLANNEL_MTU'))}`,
    );
  if (!kv.has('FLANNEL_IPMASQ')) missing.push('FLANNEL_IPMASQ');
  if (missing.length) throw new CniError(ErrorCode.InvalidNetworkConfig, `${path} is missing ${missing.join(', ')}`);
  return {
    networks,
    subnet: one('FLANNEL_SUBNET'),
    ipv6Networks,
    ipv6Subnet: one('FLANNEL_IPV6_SUBNET'),
    mtu,
    ipMasq: kv.get('FLANNEL_IPMASQ') === 'true',
  };
}
