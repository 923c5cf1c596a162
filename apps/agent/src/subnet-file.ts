/** subnet.env, the file the flannel CNI plugin reads: written whole to a temporary file, then renamed. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatCIDR, formatIP, parseCIDR, type CIDR } from '@tscni/net/host';

export interface SubnetEnv {
  network: CIDR;
  subnet: CIDR;
  mtu: number;
  ipMasq: boolean;
}

/** FLANNEL_SUBNET carries the subnet's first host address (the bridge's gateway), as flanneld writes it. */
export function formatSubnetEnv(e: SubnetEnv): string {
  const gateway = { family: e.subnet.ip.family, value: e.subnet.ip.value + 1n };
  return `FLANNEL_NETWORK=${formatCIDR(e.network)}\nFLANNEL_SUBNET=${formatIP(gateway)}/${e.subnet.prefix}\nFLANNEL_MTU=${e.mtu}\nFLANNEL_IPMASQ=${e.ipMasq}\n`;
}

export function writeSubnetFile(path: string, e: SubnetEnv): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, formatSubnetEnv(e));
  renameSync(tmp, path);
}

/** The subnet a previous run wrote (flanneld tries to get the same one back), if readable. */
export function previousSubnet(path: string): CIDR | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^FLANNEL_SUBNET=(\S+)$/m.exec(text);
  const c = m ? parseCIDR(m[1]) : undefined;
  if (!c) return undefined;
  const host = (1n << BigInt(32 - c.prefix)) - 1n;
  return { ip: { family: c.ip.family, value: c.ip.value & ~host }, prefix: c.prefix };
}
