import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(() => (require('./sbr') as typeof import('./sbr')).sbr, { about: 'tscni sbr plugin' });
