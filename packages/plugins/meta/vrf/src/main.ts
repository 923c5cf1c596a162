import { runPlugin, versionsSince } from '@tscni/cni/lazy-main';

// Like the reference, vrf speaks 0.3.1 and later.
runPlugin(() => (require('./vrf') as typeof import('./vrf')).vrf, {
  about: 'tscni vrf plugin',
  supportedVersions: versionsSince('0.3.1'),
});
