import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(() => (require('./host-local') as typeof import('./host-local')).hostLocal, {
  about: 'tscni host-local IPAM plugin',
});
