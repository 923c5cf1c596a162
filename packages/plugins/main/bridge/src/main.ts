import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    // One call per process: the pod's sysctls may be written from inside the pod (@tscni/net/host/libc).
    (require('@tscni/net/host/libc') as typeof import('@tscni/net/host/libc')).soleCallInProcess();
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./bridge') as typeof import('./bridge')).bridge;
  },
  { about: 'tscni bridge plugin' },
);
