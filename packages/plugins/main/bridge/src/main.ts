import { runPlugin } from '@tscni/cni/lazy-main';
// No imports of its own at evaluation: statically imported, it costs VERSION nothing.
import { soleCallInProcess } from '@tscni/net/host/libc';

runPlugin(
  () => {
    // One call per process: the pod's sysctls may be written from inside the pod (@tscni/net/host/libc).
    soleCallInProcess();
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./bridge') as typeof import('./bridge')).bridge;
  },
  { about: 'tscni bridge plugin' },
);
