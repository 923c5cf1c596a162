import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(() => (require('./portmap') as typeof import('./portmap')).portmap, { about: 'tscni portmap plugin' });
