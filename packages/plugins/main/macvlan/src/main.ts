import { pluginMain } from '@tscni/cni';
import { macvlan } from './macvlan';

pluginMain(macvlan, { about: 'tscni macvlan plugin' });
