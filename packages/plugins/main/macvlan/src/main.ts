import { pluginMain } from '@tscni/cni';
import { embedIpamDelegates } from '@tscni/embedded-ipam';
import { macvlan } from './macvlan';

embedIpamDelegates();
pluginMain(macvlan, { about: 'tscni macvlan plugin' });
