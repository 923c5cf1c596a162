import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(() => (require('./loopback') as typeof import('./loopback')).loopback, { about: 'tscni loopback plugin' });
