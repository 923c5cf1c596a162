/** NetworkPolicy parsing and the Kubernetes semantics of evaluation (pure, no kernel). */
import { describe, expect, it } from 'vitest';
import { parseNetworkPolicy, toKubernetes, PolicyError } from '../src/model';
import {
  allowedAt,
  connectionAllowed,
  matchesSelector,
  policiesFor,
  type Cluster,
  type NamespaceInfo,
  type PodInfo,
} from '../src/evaluate';

const np = (name: string, namespace: string, spec: unknown) =>
  parseNetworkPolicy({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace },
    spec,
  });
const sel = (matchLabels: Record<string, string> = {}, matchExpressions: unknown[] = []) =>
  ({ matchLabels, matchExpressions }) as never;

const pods: PodInfo[] = [
  { name: 'web', namespace: 'prod', ip: '10.244.1.2', labels: { app: 'web' } },
  { name: 'db', namespace: 'prod', ip: '10.244.1.3', labels: { app: 'db' } },
  { name: 'client', namespace: 'prod', ip: '10.244.2.2', labels: { role: 'client' } },
  { name: 'mon', namespace: 'ops', ip: '10.244.2.3', labels: { role: 'monitor' } },
  { name: 'other', namespace: 'dev', ip: '10.244.3.2', labels: { role: 'client' } },
];
const namespaces: NamespaceInfo[] = [
  { name: 'prod', labels: { env: 'prod' } },
  { name: 'ops', labels: { team: 'ops' } },
  { name: 'dev', labels: {} },
];
const cluster = (...policies: ReturnType<typeof np>[]): Cluster => ({ pods, namespaces, policies });
const pod = (name: string) => pods.find((p) => p.name === name)!;

describe('parsing', () => {
  it('defaults policyTypes as the API server does: Ingress always, Egress only with egress rules', () => {
    expect(np('a', 'x', { podSelector: {} }).policyTypes).toEqual(['Ingress']);
    expect(np('a', 'x', { podSelector: {}, egress: [] }).policyTypes).toEqual(['Ingress']);
    expect(np('a', 'x', { podSelector: {}, egress: [{}] }).policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np('a', 'x', { podSelector: {}, policyTypes: ['Egress'] }).policyTypes).toEqual(['Egress']);
  });

  it('reads peers, ports (protocol defaults to TCP) and ipBlock, and round-trips to the Kubernetes shape', () => {
    const p = np('a', 'x', {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { team: 'ops' } },
              podSelector: { matchExpressions: [{ key: 'role', operator: 'Exists' }] },
            },
            { ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.1.0/24'] } },
          ],
          ports: [{ port: 80, endPort: 90 }, { protocol: 'UDP' }],
        },
      ],
    });
    expect(p.ingress[0].ports).toEqual([{ protocol: 'TCP', port: 80, endPort: 90 }, { protocol: 'UDP' }]);
    expect(parseNetworkPolicy(toKubernetes(p))).toEqual(p);
  });

  it.each([
    [{ podSelector: {}, ingress: [{ ports: [{ port: 'http' }] }] }, /named ports are not supported/],
    [{ podSelector: {}, ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }, /endPort: must be at least port/],
    [
      { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] }] },
      /must be within 10.0.0.0\/8/,
    ],
    [
      { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] },
      /ipBlock cannot be combined/,
    ],
    [{ podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } }, /must be non-empty for In/],
    [
      { podSelector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] } },
      /is not In, NotIn, Exists or DoesNotExist/,
    ],
    [{}, /spec.podSelector: required/],
    [{ podSelector: {}, policyTypes: ['Both'] }, /is not Ingress or Egress/],
  ])('refuses %j', (spec, msg) => {
    expect(() => np('a', 'x', spec)).toThrow(PolicyError);
    expect(() => np('a', 'x', spec)).toThrow(msg);
  });

  it('refuses other kinds and invalid names', () => {
    expect(() => parseNetworkPolicy({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' }, spec: {} })).toThrow(
      /apiVersion/,
    );
    expect(() => np('A_b', 'x', { podSelector: {} })).toThrow(/metadata.name/);
    expect(() => np('a', '../etc', { podSelector: {} })).toThrow(/metadata.namespace/);
  });
});

describe('selectors', () => {
  it('matchLabels and every matchExpressions operator, ANDed; {} selects everything', () => {
    const l = { app: 'web', tier: 'front' };
    expect(matchesSelector(sel(), l)).toBe(true);
    expect(matchesSelector(sel({ app: 'web' }), l)).toBe(true);
    expect(matchesSelector(sel({ app: 'db' }), l)).toBe(false);
    expect(matchesSelector(sel({}, [{ key: 'tier', operator: 'In', values: ['front', 'back'] }]), l)).toBe(true);
    expect(matchesSelector(sel({}, [{ key: 'zone', operator: 'In', values: ['a'] }]), l)).toBe(false);
    expect(matchesSelector(sel({}, [{ key: 'tier', operator: 'NotIn', values: ['back'] }]), l)).toBe(true);
    expect(matchesSelector(sel({}, [{ key: 'zone', operator: 'NotIn', values: ['a'] }]), l)).toBe(true);
    expect(matchesSelector(sel({}, [{ key: 'tier', operator: 'NotIn', values: ['front'] }]), l)).toBe(false);
    expect(matchesSelector(sel({}, [{ key: 'app', operator: 'Exists', values: [] }]), l)).toBe(true);
    expect(matchesSelector(sel({}, [{ key: 'app', operator: 'DoesNotExist', values: [] }]), l)).toBe(false);
    expect(matchesSelector(sel({ app: 'web' }, [{ key: 'zone', operator: 'Exists', values: [] }]), l)).toBe(false);
  });
});

describe('Kubernetes semantics', () => {
  it('a pod selected by no policy allows everything', () => {
    const c = cluster(np('deny', 'prod', { podSelector: { matchLabels: { app: 'db' } } }));
    expect(connectionAllowed(c, pod('other').ip, pod('web').ip, 'TCP', 80)).toBe(true);
    expect(policiesFor(c, pod('web'), 'Ingress')).toEqual([]);
  });

  it('default deny ingress isolates every pod of the namespace only (not other namespaces), egress stays open', () => {
    const c = cluster(np('deny', 'prod', { podSelector: {} }));
    expect(connectionAllowed(c, pod('client').ip, pod('web').ip, 'TCP', 80)).toBe(false);
    expect(connectionAllowed(c, pod('web').ip, pod('mon').ip, 'TCP', 80)).toBe(true);
    expect(connectionAllowed(c, pod('web').ip, '8.8.8.8', 'UDP', 53)).toBe(true);
  });

  it('policies are additive: a second policy opens what the deny policy closes', () => {
    const deny = np('deny', 'prod', { podSelector: {} });
    const allow = np('web', 'prod', {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 80 }] }],
    });
    const c = cluster(deny, allow);
    expect(connectionAllowed(c, pod('client').ip, pod('web').ip, 'TCP', 80)).toBe(true);
    expect(connectionAllowed(c, pod('client').ip, pod('web').ip, 'TCP', 81)).toBe(false);
    expect(connectionAllowed(c, pod('client').ip, pod('web').ip, 'UDP', 80)).toBe(false);
    // podSelector alone means this namespace: the dev client with the same label is not admitted.
    expect(connectionAllowed(c, pod('other').ip, pod('web').ip, 'TCP', 80)).toBe(false);
    expect(connectionAllowed(c, pod('client').ip, pod('db').ip, 'TCP', 80)).toBe(false);
  });

  it('namespaceSelector alone, and namespaceSelector with podSelector in one peer (AND) versus two peers (OR)', () => {
    const fromNs = cluster(
      np('a', 'prod', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }] }],
      }),
    );
    expect(connectionAllowed(fromNs, pod('mon').ip, pod('web').ip, 'TCP', 1)).toBe(true);
    expect(connectionAllowed(fromNs, pod('other').ip, pod('web').ip, 'TCP', 1)).toBe(false);
    expect(connectionAllowed(fromNs, pod('client').ip, pod('web').ip, 'TCP', 1)).toBe(false);

    const and = cluster(
      np('a', 'prod', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }] }],
      }),
    );
    expect(connectionAllowed(and, pod('other').ip, pod('web').ip, 'TCP', 1)).toBe(true);
    expect(connectionAllowed(and, pod('mon').ip, pod('web').ip, 'TCP', 1)).toBe(false);

    const or = cluster(
      np('a', 'prod', {
        podSelector: {},
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dev' } } },
              { podSelector: { matchLabels: { role: 'client' } } },
            ],
          },
        ],
      }),
    );
    expect(connectionAllowed(or, pod('other').ip, pod('web').ip, 'TCP', 1)).toBe(true);
    expect(connectionAllowed(or, pod('client').ip, pod('web').ip, 'TCP', 1)).toBe(true);
    expect(connectionAllowed(or, pod('mon').ip, pod('web').ip, 'TCP', 1)).toBe(false);
  });

  it('ipBlock with except, and port ranges with endPort', () => {
    const c = cluster(
      np('a', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [
          {
            from: [{ ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.3.0/24'] } }],
            ports: [{ port: 8000, endPort: 8080 }],
          },
        ],
      }),
    );
    expect(connectionAllowed(c, pod('mon').ip, pod('web').ip, 'TCP', 8000)).toBe(true);
    expect(connectionAllowed(c, pod('mon').ip, pod('web').ip, 'TCP', 8080)).toBe(true);
    expect(connectionAllowed(c, pod('mon').ip, pod('web').ip, 'TCP', 8081)).toBe(false);
    expect(connectionAllowed(c, pod('other').ip, pod('web').ip, 'TCP', 8000)).toBe(false);
    expect(connectionAllowed(c, '192.168.0.1', pod('web').ip, 'TCP', 8000)).toBe(false);
  });

  it('egress: isolated source needs its egress and the destination its ingress; an empty rule allows all', () => {
    const egress = np('dns-only', 'prod', {
      podSelector: { matchLabels: { role: 'client' } },
      policyTypes: ['Egress'],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    });
    const c = cluster(egress);
    expect(allowedAt(c, pod('client'), 'Egress', '10.96.0.10', 'UDP', 53)).toBe(true);
    expect(connectionAllowed(c, pod('client').ip, pod('web').ip, 'TCP', 80)).toBe(false);
    expect(connectionAllowed(c, pod('web').ip, pod('client').ip, 'TCP', 80)).toBe(true);
    const open = cluster(egress, np('open', 'prod', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }));
    expect(connectionAllowed(open, pod('client').ip, pod('web').ip, 'TCP', 80)).toBe(true);
    const both = cluster(np('deny', 'prod', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }));
    expect(connectionAllowed(both, pod('web').ip, pod('db').ip, 'TCP', 5432)).toBe(false);
    expect(connectionAllowed(both, pod('mon').ip, pod('other').ip, 'TCP', 1)).toBe(true);
  });
});
