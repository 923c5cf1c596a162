import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./bridge') as typeof import('./bridge')).bridge;
  },
  { about: 'tscni bridge plugin' },
);
