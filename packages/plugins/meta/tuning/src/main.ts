import { runPlugin } from '@tscni/cni/lazy-main';
// No imports of its own at evaluation: statically imported, it costs VERSION nothing.
import { soleCallInProcess } from '@tscni/net/host/libc';

runPlugin(
  () => {
    // One call per process: the pod's sysctls may be written from inside the pod (@tscni/net/host/libc).
    soleCallInProcess();
    return (require('./tuning') as typeof import('./tuning')).tuning;
  },
  { about: 'tscni tuning plugin' },
);
