import { pluginMain } from '@tscni/cni';
import { ipvlan } from './ipvlan';

pluginMain(ipvlan, { about: 'tscni ipvlan plugin' });
