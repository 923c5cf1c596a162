import { isIPv4 } from 'node:net';
import { POD_IFNAME } from './cni';

interface ResultIP {
  address?: string;
  interface?: number;
}
interface ResultInterface {
  name?: string;
  sandbox?: string;
}

/**
 * The pod's IPs from the pod network's result, as containerd reads them: the addresses on eth0 in the
 * pod netns, the first IPv4 one primary and the rest additional. Throws when eth0 got none.
 */
export function podIPs(result: unknown): { ip: string; additionalIps: string[] } {
  const r = (result ?? {}) as {
    ips?: ResultIP[];
    interfaces?: ResultInterface[];
    ip4?: { ip?: string };
    ip6?: { ip?: string };
  };
  const interfaces = r.interfaces ?? [];
  let addresses: string[];
  if (r.ips) {
    addresses = r.ips
      .filter(
        (ip) =>
          ip.interface === undefined ||
          (interfaces[ip.interface]?.name === POD_IFNAME && !!interfaces[ip.interface]?.sandbox),
      )
      .map((ip) => ip.address ?? '');
  } else {
    addresses = [r.ip4?.ip ?? '', r.ip6?.ip ?? ''];
  }
  const ips = addresses.map((a) => a.split('/')[0]).filter(Boolean);
  if (ips.length === 0) throw new Error(`failed to find network info: no IP address on ${POD_IFNAME}`);
  const primary = ips.find((ip) => isIPv4(ip)) ?? ips[0];
  return { ip: primary, additionalIps: ips.filter((ip) => ip !== primary) };
}
