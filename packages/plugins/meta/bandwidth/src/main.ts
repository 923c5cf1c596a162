import { runPlugin, versionsSince } from '@tscni/cni/lazy-main';

// Like the reference, bandwidth speaks 0.3.0 and later (it needs a result with interfaces).
runPlugin(() => (require('./bandwidth') as typeof import('./bandwidth')).bandwidth, {
  about: 'tscni bandwidth plugin',
  supportedVersions: versionsSince('0.3.0'),
});
