/** Dual-stack pods (every address in `ips`) and IPv6 ipBlocks: the semantics and the nft set elements per family. */
import { describe, expect, it } from 'vitest';
import { clusterFromKVs, connectionAllowed, parseNetworkPolicy, setElements, type Cluster } from '../src';

const np = (name: string, namespace: string, spec: unknown) =>
  parseNetworkPolicy({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace },
    spec,
  });

describe('dual-stack pods and IPv6 ipBlocks', () => {
  const web = {
    name: 'web',
    namespace: 'prod',
    ip: '10.1.0.2',
    ips: ['10.1.0.2', 'fd00:1::2'],
    labels: { app: 'web' },
  };
  const client = {
    name: 'client',
    namespace: 'prod',
    ip: '10.1.0.3',
    ips: ['10.1.0.3', 'fd00:1::3'],
    labels: { role: 'client' },
  };
  const other = { name: 'other', namespace: 'prod', ip: '10.1.0.4', ips: ['10.1.0.4', 'fd00:1::4'], labels: {} };

  it('a pod selector peer matches the pod by any of its addresses; the isolated pod is found by any of its own', () => {
    const c: Cluster = {
      pods: [web, client, other],
      namespaces: [],
      policies: [
        np('p', 'prod', {
          podSelector: { matchLabels: { app: 'web' } },
          ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }],
        }),
      ],
    };
    expect(connectionAllowed(c, 'fd00:1::3', 'fd00:1::2', 'TCP', 80)).toBe(true);
    expect(connectionAllowed(c, 'fd00:1::4', 'fd00:1::2', 'TCP', 80)).toBe(false);
    expect(connectionAllowed(c, '10.1.0.4', '10.1.0.2', 'TCP', 80)).toBe(false);
    expect(connectionAllowed(c, 'fd00:1::4', 'fd00:1::3', 'TCP', 80)).toBe(true);
  });

  it('an IPv6 ipBlock with except matches IPv6 peers only', () => {
    const c: Cluster = {
      pods: [web, client, other],
      namespaces: [],
      policies: [
        np('p', 'prod', {
          podSelector: { matchLabels: { app: 'web' } },
          ingress: [{ from: [{ ipBlock: { cidr: 'fd00:1::/64', except: ['fd00:1::4/128'] } }] }],
        }),
      ],
    };
    expect(connectionAllowed(c, 'fd00:1::3', 'fd00:1::2', 'TCP', 80)).toBe(true);
    expect(connectionAllowed(c, 'fd00:1::4', 'fd00:1::2', 'TCP', 80)).toBe(false);
    expect(connectionAllowed(c, '10.1.0.3', '10.1.0.2', 'TCP', 80)).toBe(false);
  });

  it('set elements per family: addresses and blocks minus exceptions, merged and sorted', () => {
    const ips = ['10.1.0.3', 'fd00:1::3', 'fd00:1::2', '10.1.0.2'];
    const blocks = [
      { cidr: 'fd00:2::/64', except: ['fd00:2::8/125'] },
      { cidr: '10.2.0.0/24', except: [] },
    ];
    expect(setElements(ips, blocks, 4)).toEqual(['10.1.0.2-10.1.0.3', '10.2.0.0-10.2.0.255']);
    expect(setElements(ips, blocks, 6)).toEqual([
      'fd00:1::2-fd00:1::3',
      'fd00:2::-fd00:2::7',
      'fd00:2::10-fd00:2::ffff:ffff:ffff:ffff',
    ]);
  });

  it('the etcd schema: ips is optional, a list of strings', () => {
    const { cluster, problems } = clusterFromKVs('/p', [
      {
        key: '/p/pods/prod/web',
        value: JSON.stringify({ ip: '10.1.0.2', ips: ['10.1.0.2', 'fd00:1::2'], labels: {} }),
      },
      { key: '/p/pods/prod/bad', value: JSON.stringify({ ip: '10.1.0.5', ips: 'fd00:1::5' }) },
    ]);
    expect(cluster.pods).toEqual([
      { namespace: 'prod', name: 'web', ip: '10.1.0.2', ips: ['10.1.0.2', 'fd00:1::2'], labels: {} },
    ]);
    expect(problems).toEqual(['/p/pods/prod/bad: ips: must be a list of strings']);
  });
});
