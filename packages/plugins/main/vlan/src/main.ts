import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./vlan') as typeof import('./vlan')).vlan;
  },
  { about: 'tscni vlan plugin' },
);
