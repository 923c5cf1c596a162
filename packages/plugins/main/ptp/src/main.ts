import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./ptp') as typeof import('./ptp')).ptp;
  },
  { about: 'tscni ptp plugin' },
);
