import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(() => (require('./static') as typeof import('./static')).staticIPAM, { about: 'tscni static IPAM plugin' });
