import { pluginMain } from '@tscni/cni';
import { vlan } from './vlan';

pluginMain(vlan, { about: 'tscni vlan plugin' });
