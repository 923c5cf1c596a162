import { pluginMain } from '@tscni/cni';
import { embedIpamDelegates } from '@tscni/embedded-ipam';
import { ipvlan } from './ipvlan';

embedIpamDelegates();
pluginMain(ipvlan, { about: 'tscni ipvlan plugin' });
