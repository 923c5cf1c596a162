import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./tap') as typeof import('./tap')).tap;
  },
  { about: 'tscni tap plugin' },
);
