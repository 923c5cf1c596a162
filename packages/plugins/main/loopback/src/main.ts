import { runPlugin } from '@tscni/cni/lazy-main';
// No imports of its own at evaluation: statically imported, it costs VERSION nothing.
import { soleCallInProcess } from '@tscni/net/host/libc';

runPlugin(
  () => {
    // One call per process: `ip` may be done in-process over rtnetlink inside the pod (@tscni/net/host/rtnetlink).
    soleCallInProcess();
    return (require('./loopback') as typeof import('./loopback')).loopback;
  },
  { about: 'tscni loopback plugin' },
);
