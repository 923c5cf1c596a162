import { pluginMain } from '@tscni/cni';
import { bridge } from './bridge';

pluginMain(bridge, { about: 'tscni bridge plugin' });
