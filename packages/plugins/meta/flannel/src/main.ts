import { runPlugin } from '@tscni/cni/lazy-main';

runPlugin(() => (require('./flannel') as typeof import('./flannel')).flannel, { about: 'tscni flannel plugin' });
