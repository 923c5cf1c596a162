/**
 * The CRI messages as @grpc/proto-loader hands them to us (keepCase: snake_case fields, enums as
 * their names, int64 as decimal strings, defaults filled in). Only the fields the harness reads or writes.
 */
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface DNSConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface PortMapping {
  protocol: Protocol;
  container_port: number;
  host_port: number;
  host_ip: string;
}

export interface NamespaceOption {
  network: NamespaceMode;
  pid: NamespaceMode;
  ipc: NamespaceMode;
  target_id?: string;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata | null;
  hostname: string;
  log_directory: string;
  dns_config: DNSConfig | null;
  port_mappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: {
    cgroup_parent?: string;
    sysctls?: Record<string, string>;
    security_context?: { namespace_options?: NamespaceOption | null } | null;
  } | null;
}

export interface PodSandboxFilter {
  id: string;
  state: { state: PodSandboxState } | null;
  label_selector: Record<string, string>;
}

export interface RuntimeCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}
