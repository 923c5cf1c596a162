import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./ipvlan') as typeof import('./ipvlan')).ipvlan;
  },
  { about: 'tscni ipvlan plugin' },
);
