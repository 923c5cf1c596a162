import { isIP } from 'node:net';
import type { PodSandboxConfig } from './cri-types';
import { invalidArgument } from './cri-error';
import { quantityValue } from './quantity';

/** What the runtime hands libcni for one pod, apart from the netns and the interface name. */
export interface PodCniArgs {
  /** CNI_ARGS pairs, the keys Kubernetes runtimes send. */
  args: [string, string][];
  /** Capability arguments; libcni passes each only to plugins that declare it. */
  capabilityArgs: Record<string, unknown>;
}

export const INGRESS_ANNOTATION = 'kubernetes.io/ingress-bandwidth';
export const EGRESS_ANNOTATION = 'kubernetes.io/egress-bandwidth';
/** Burst in bits when a rate comes from an annotation (containerd uses MaxUint32). */
const UNLIMITED_BURST = 4294967295;
const MIN_BANDWIDTH = 1e3;
const MAX_BANDWIDTH = 1e15;

export function podCniArgs(sandboxId: string, config: PodSandboxConfig): PodCniArgs {
  const m = config.metadata!;
  const args: [string, string][] = [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', m.namespace],
    ['K8S_POD_NAME', m.name],
    ['K8S_POD_INFRA_CONTAINER_ID', sandboxId],
    ['K8S_POD_UID', m.uid],
  ];
  const capabilityArgs: Record<string, unknown> = {};
  const portMappings = portMappingsOf(config);
  if (portMappings.length) capabilityArgs.portMappings = portMappings;
  const bandwidth = bandwidthOf(config.annotations ?? {});
  if (bandwidth) capabilityArgs.bandwidth = bandwidth;
  const dns = config.dns_config;
  if (dns && (dns.servers.length || dns.searches.length || dns.options.length))
    capabilityArgs.dns = { servers: dns.servers, searches: dns.searches, options: dns.options };
  capabilityArgs['io.kubernetes.cri.pod-annotations'] = { ...(config.annotations ?? {}) };
  return { args, capabilityArgs };
}

/** `portMappings` in the canonical capability shape; entries without a host port are dropped (as go-cni). */
function portMappingsOf(
  config: PodSandboxConfig,
): { hostPort: number; containerPort: number; protocol: string; hostIP?: string }[] {
  return (config.port_mappings ?? [])
    .filter((p) => p.host_port > 0)
    .map((p, i) => {
      const field = `port_mappings[${i}]`;
      if (p.host_port > 65535) throw invalidArgument(`${field}.host_port ${p.host_port} is out of range`);
      if (!(p.container_port > 0 && p.container_port <= 65535))
        throw invalidArgument(`${field}.container_port ${p.container_port} is out of range`);
      if (p.host_ip && !isIP(p.host_ip))
        throw invalidArgument(`${field}.host_ip ${JSON.stringify(p.host_ip)} is not an IP address`);
      const mapping = {
        hostPort: p.host_port,
        containerPort: p.container_port,
        protocol: String(p.protocol).toLowerCase(),
      };
      return p.host_ip ? { ...mapping, hostIP: p.host_ip } : mapping;
    });
}

/** The `bandwidth` capability from the pod's annotations (bits/s), validated like kubelet's. */
function bandwidthOf(annotations: Record<string, string>): Record<string, number> | undefined {
  const ingress = rate(annotations, INGRESS_ANNOTATION);
  const egress = rate(annotations, EGRESS_ANNOTATION);
  if (ingress === undefined && egress === undefined) return undefined;
  return {
    ...(ingress !== undefined && { ingressRate: ingress, ingressBurst: UNLIMITED_BURST }),
    ...(egress !== undefined && { egressRate: egress, egressBurst: UNLIMITED_BURST }),
  };
}

function rate(annotations: Record<string, string>, key: string): number | undefined {
  const text = annotations[key];
  if (text === undefined) return undefined;
  let value: number;
  try {
    value = quantityValue(text);
  } catch (e) {
    throw invalidArgument(`annotation ${key}: ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
  if (value < MIN_BANDWIDTH) throw invalidArgument(`annotation ${key}: resource is unreasonably small (< 1kbit)`);
  if (value > MAX_BANDWIDTH) throw invalidArgument(`annotation ${key}: resource is unreasonably large (> 1Pbit)`);
  return value;
}
