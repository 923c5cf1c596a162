import { CniError, ErrorCode } from './errors';

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Container IDs and network names share the spec's pattern; both end up in paths and rule comments. */
export function validateContainerID(id: string): void {
  if (!id) throw new CniError(ErrorCode.InvalidEnvironmentVariables, 'missing containerID');
  if (!ID_RE.test(id) || id.length > 1024)
    throw new CniError(ErrorCode.InvalidEnvironmentVariables, 'invalid characters in containerID', id);
}

export function validateNetworkName(name: string | undefined): string {
  if (!name) throw new CniError(ErrorCode.InvalidNetworkConfig, 'missing network name');
  if (!ID_RE.test(name) || name.length > 255)
    throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid characters found in network name', name);
  return name;
}

/** Linux interface-name rules (IFNAMSIZ-1, no `/`, `:` or whitespace, not `.`/`..`). */
export function interfaceNameProblem(name: string): string | undefined {
  if (name === '') return 'interface name is empty';
  if (name.length > 15) return 'interface name is too long';
  if (name === '.' || name === '..') return 'interface name is . or ..';
  if (/[/:\s]/.test(name)) return 'interface name contains / or : or whitespace characters';
  // (the kernel ends a name at NUL, and no process argument can carry one)
  if (name.includes('\0')) return 'interface name contains a NUL character';
  return undefined;
}

export function validateInterfaceName(name: string): void {
  const problem = interfaceNameProblem(name);
  if (problem) throw new CniError(ErrorCode.InvalidEnvironmentVariables, problem, name);
}
