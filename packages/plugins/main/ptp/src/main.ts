import { runPlugin } from '@tscni/cni/lazy-main';
// No imports of its own at evaluation: statically imported, it costs VERSION nothing.
import { soleCallInProcess } from '@tscni/net/host/libc';

runPlugin(
  () => {
    // One call per process: `ip` may be done in-process over rtnetlink, inside the pod (@tscni/net/host/rtnetlink).
    soleCallInProcess();
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./ptp') as typeof import('./ptp')).ptp;
  },
  { about: 'tscni ptp plugin' },
);
