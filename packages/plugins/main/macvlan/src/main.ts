import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./macvlan') as typeof import('./macvlan')).macvlan;
  },
  { about: 'tscni macvlan plugin' },
);
