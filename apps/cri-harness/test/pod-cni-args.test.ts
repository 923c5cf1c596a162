import { describe, expect, it } from 'vitest';
import type { PodSandboxConfig } from '../src/cri-types';
import { podCniArgs } from '../src/pod-cni-args';
import { podIPs } from '../src/pod-ips';
import { quantityValue } from '../src/quantity';

const config = (extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig => ({
  metadata: { name: 'p', namespace: 'ns', uid: 'u-1', attempt: 0 },
  hostname: '',
  log_directory: '',
  dns_config: null,
  port_mappings: [],
  labels: {},
  annotations: {},
  linux: null,
  ...extra,
});

describe('resource quantities (bandwidth annotations)', () => {
  it.each([
    ['1M', 1e6],
    ['2.5M', 2.5e6],
    ['1.1M', 1.1e6],
    ['10k', 1e4],
    ['1Ki', 1024],
    ['1Mi', 1048576],
    ['1e3', 1000],
    ['1500m', 2],
    ['100', 100],
    ['1P', 1e15],
    ['.5G', 5e8],
  ])('%s is %d', (text, value) => expect(quantityValue(text)).toBe(value));

  it.each(['', 'M', '1 M', '1MB', 'abc', '1x', '--1'])('%j is refused', (text) =>
    expect(() => quantityValue(text)).toThrow(/quantities must match/),
  );
});

describe('podCniArgs: what containerd hands libcni', () => {
  it('sends the five Kubernetes CNI_ARGS and always offers the pod annotations', () => {
    const { args, capabilityArgs } = podCniArgs('abc', config({ annotations: { a: 'b' } }));
    expect(args).toEqual([
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', 'ns'],
      ['K8S_POD_NAME', 'p'],
      ['K8S_POD_INFRA_CONTAINER_ID', 'abc'],
      ['K8S_POD_UID', 'u-1'],
    ]);
    expect(capabilityArgs).toEqual({ 'io.kubernetes.cri.pod-annotations': { a: 'b' } });
  });

  it('maps port_mappings with a host port, lower-casing the protocol', () => {
    const { capabilityArgs } = podCniArgs(
      'x',
      config({
        port_mappings: [
          { protocol: 'TCP', container_port: 80, host_port: 8080, host_ip: '' },
          { protocol: 'UDP', container_port: 53, host_port: 5353, host_ip: '127.0.0.1' },
          { protocol: 'SCTP', container_port: 9, host_port: 0, host_ip: '' },
        ],
      }),
    );
    expect(capabilityArgs.portMappings).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
    ]);
  });

  it('refuses bad port mappings naming the entry', () => {
    expect(() =>
      podCniArgs('x', config({ port_mappings: [{ protocol: 'TCP', container_port: 0, host_port: 80, host_ip: '' }] })),
    ).toThrow(/port_mappings\[0\].container_port/);
    expect(() =>
      podCniArgs(
        'x',
        config({ port_mappings: [{ protocol: 'TCP', container_port: 1, host_port: 70000, host_ip: '' }] }),
      ),
    ).toThrow(/host_port 70000/);
    expect(() =>
      podCniArgs(
        'x',
        config({ port_mappings: [{ protocol: 'TCP', container_port: 1, host_port: 80, host_ip: 'nope' }] }),
      ),
    ).toThrow(/host_ip/);
  });

  it('turns the bandwidth annotations into bits/s with an unlimited burst, within 1k..1P', () => {
    const only = (a: Record<string, string>) => podCniArgs('x', config({ annotations: a })).capabilityArgs.bandwidth;
    expect(only({ 'kubernetes.io/egress-bandwidth': '10M' })).toEqual({ egressRate: 1e7, egressBurst: 4294967295 });
    expect(only({ 'kubernetes.io/ingress-bandwidth': '1k' })).toEqual({ ingressRate: 1000, ingressBurst: 4294967295 });
    expect(() => only({ 'kubernetes.io/ingress-bandwidth': '999' })).toThrow(/unreasonably small/);
    expect(() => only({ 'kubernetes.io/egress-bandwidth': '2P' })).toThrow(/unreasonably large/);
    expect(() => only({ 'kubernetes.io/egress-bandwidth': 'fast' })).toThrow(/egress-bandwidth/);
  });

  it('passes dns_config as the dns capability', () => {
    const dns = { servers: ['10.0.0.10'], searches: ['a.b'], options: ['ndots:2'] };
    expect(podCniArgs('x', config({ dns_config: dns })).capabilityArgs.dns).toEqual(dns);
    expect(
      podCniArgs('x', config({ dns_config: { servers: [], searches: [], options: [] } })).capabilityArgs.dns,
    ).toBeUndefined();
  });
});

describe('podIPs: the pod IPs from the eth0 result', () => {
  const iface = [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/var/run/netns/x' }];
  it('takes the first IPv4 address on eth0 as primary, the rest as additional', () => {
    const result = {
      interfaces: iface,
      ips: [
        { address: 'fd00::5/64', interface: 2 },
        { address: '10.0.0.5/24', interface: 2 },
        { address: '10.9.9.9/24', interface: 0 },
      ],
    };
    expect(podIPs(result)).toEqual({ ip: '10.0.0.5', additionalIps: ['fd00::5'] });
  });
  it('accepts IPs without an interface index and 0.2.0 results', () => {
    expect(podIPs({ ips: [{ address: '10.0.0.7/8' }] })).toEqual({ ip: '10.0.0.7', additionalIps: [] });
    expect(podIPs({ ip4: { ip: '10.1.1.1/16' } })).toEqual({ ip: '10.1.1.1', additionalIps: [] });
  });
  it('fails when eth0 has no address', () => {
    expect(() => podIPs({ interfaces: iface, ips: [{ address: '10.9.9.9/24', interface: 0 }] })).toThrow(
      /failed to find network info/,
    );
    expect(() => podIPs({})).toThrow(/failed to find network info/);
  });
});
