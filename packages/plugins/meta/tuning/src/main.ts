import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    // One call per process: the pod's sysctls may be written from inside the pod (@tscni/net/host/libc).
    (require('@tscni/net/host/libc') as typeof import('@tscni/net/host/libc')).soleCallInProcess();
    return (require('./tuning') as typeof import('./tuning')).tuning;
  },
  { about: 'tscni tuning plugin' },
);
