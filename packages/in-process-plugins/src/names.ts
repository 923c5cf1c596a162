/**
 * The plugins that run in-process (the CRI harness, tscni-plugind): the Kubernetes chain and its IPAM. A module of its
 * own, so that what only needs the names (`tscni install --resident`) does not load the plugins.
 */
export const IN_PROCESS_NAMES = [
  'loopback',
  'bridge',
  'ptp',
  'host-local',
  'static',
  'portmap',
  'bandwidth',
  'tuning',
] as const;

export type InProcessName = (typeof IN_PROCESS_NAMES)[number];
