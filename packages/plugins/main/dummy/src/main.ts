import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./dummy') as typeof import('./dummy')).dummy;
  },
  { about: 'tscni dummy plugin' },
);
