import { pluginMain } from '@tscni/cni';
import { tuning } from './tuning';

pluginMain(tuning, { about: 'tscni tuning plugin' });
