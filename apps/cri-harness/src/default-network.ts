import { join } from 'node:path';

/**
 * The network a pod gets when the conf dir has no config: a bridge with host-local addresses, port
 * mappings, bandwidth limits and tuning — the chain containerd's sample config sets up. CNI 1.0.0, so
 * the Debian reference plugins can run it too. Leases live under the harness's state dir.
 */
export function embeddedDefaultNetwork(stateDir: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'tscni-default',
    plugins: [
      {
        type: 'bridge',
        bridge: 'tscni0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: '10.88.0.0/16' }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(stateDir, 'ipam'),
        },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
      { type: 'tuning' },
    ],
  });
}
