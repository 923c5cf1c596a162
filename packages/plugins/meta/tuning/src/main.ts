import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(() => (require('./tuning') as typeof import('./tuning')).tuning, { about: 'tscni tuning plugin' });
