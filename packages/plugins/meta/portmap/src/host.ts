import type { CIDR } from '@tscni/net/host';
import { ipJson } from '@tscni/net/host/ip';
import { formatIP } from '@tscni/net/host/ipaddr';
import { run } from '@tscni/net/host/runner';
import { writeSysctl } from '@tscni/net/host/sysctl';
import type { IPFamily } from '@tscni/net/netfilter';
import type { PortMapping } from './config';

/**
 * The host interface that routes to the container, where route_localnet goes; undefined for none (like the
 * reference: no route means no interface to set it on) and for lo. Only reads the routing table, so it may run
 * while the rules are written. Runs in the plugin's (the node's) namespace.
 */
export async function localnetDevice(container: CIDR): Promise<string | undefined> {
  const routes = await ipJson<{ dev?: string }[]>(['route', 'get', formatIP(container.ip)]).catch(() => []);
  const dev = routes[0]?.dev;
  return dev && dev !== 'lo' ? dev : undefined;
}

/**
 * route_localnet=1 on that interface, so 127.0.0.1:hostPort (DNATed, then masqueraded) may cross a routing boundary.
 */
export function enableLocalnetRouting(dev: string | undefined): void {
  if (dev) writeSysctl(`net.ipv4.conf.${dev.replace(/\./g, '/')}.route_localnet`, 1);
}

/**
 * Drop UDP conntrack entries aimed at the host ports, so flows that started before the DNAT existed
 * do not keep black-holing traffic. Failures are informative only, as in the reference.
 */
export async function flushUdpConntrack(mappings: PortMapping[], family: IPFamily): Promise<void> {
  const ports = [...new Set(mappings.filter((m) => m.protocol === 'udp').map((m) => m.hostPort))];
  await Promise.all(
    ports.map((port) =>
      run('conntrack', [
        '-D',
        '-f',
        family === 4 ? 'ipv4' : 'ipv6',
        '-p',
        'udp',
        '--orig-port-dst',
        String(port),
      ]).catch(() => undefined),
    ),
  );
}
