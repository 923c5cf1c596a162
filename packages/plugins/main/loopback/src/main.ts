import { pluginMain } from '@tscni/cni';
import { loopback } from './loopback';

pluginMain(loopback, { about: 'tscni loopback plugin' });
