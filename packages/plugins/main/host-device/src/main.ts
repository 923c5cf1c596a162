import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(
  () => {
    (require('@tscni/embedded-ipam') as typeof import('@tscni/embedded-ipam')).embedIpamDelegates();
    return (require('./host-device') as typeof import('./host-device')).hostDevice;
  },
  { about: 'tscni host-device plugin' },
);
