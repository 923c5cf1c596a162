import { runPlugin, versionsSince } from '@tscni/cni/lazy-main';

runPlugin(() => (require('./firewall') as typeof import('./firewall')).firewall, {
  about: 'tscni firewall plugin',
  supportedVersions: versionsSince('0.4.0'),
});
