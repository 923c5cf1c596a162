import type { PodSandboxConfig } from './cri-types';
import { invalidArgument } from './cri-error';

// Kubernetes object names (DNS subdomains; we also allow '_' and upper case, which crictl users type).
const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$/;
const UID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,62}[A-Za-z0-9])?$/;

/**
 * Refuse a pod config the harness cannot run, naming the field. Metadata values end up in CNI_ARGS
 * (`K=V;K=V`), in the name reservation and in logs, so they are held to Kubernetes' name rules.
 */
export function validatePodConfig(
  config: PodSandboxConfig | null | undefined,
): asserts config is PodSandboxConfig & { metadata: NonNullable<PodSandboxConfig['metadata']> } {
  if (!config) throw invalidArgument('config is required');
  const m = config.metadata;
  if (!m) throw invalidArgument('sandbox config must include metadata');
  if (!m.name) throw invalidArgument('metadata.name is required');
  if (!NAME.test(m.name)) throw invalidArgument(`metadata.name ${JSON.stringify(m.name)} is not a valid name`);
  if (!m.namespace) throw invalidArgument('metadata.namespace is required');
  if (!NAME.test(m.namespace))
    throw invalidArgument(`metadata.namespace ${JSON.stringify(m.namespace)} is not a valid name`);
  if (!m.uid) throw invalidArgument('metadata.uid is required');
  if (!UID.test(m.uid)) throw invalidArgument(`metadata.uid ${JSON.stringify(m.uid)} is not a valid uid`);
  if (config.hostname && !HOSTNAME.test(config.hostname))
    throw invalidArgument(`hostname ${JSON.stringify(config.hostname)} is not a valid host name`);
}

/** The pod's network namespace mode: POD (own netns + CNI) unless the config asks for the node's. */
export const networkMode = (config: PodSandboxConfig): string =>
  config.linux?.security_context?.namespace_options?.network ?? 'POD';
