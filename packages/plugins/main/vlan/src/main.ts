import { pluginMain } from '@tscni/cni';
import { embedIpamDelegates } from '@tscni/embedded-ipam';
import { vlan } from './vlan';

embedIpamDelegates();
pluginMain(vlan, { about: 'tscni vlan plugin' });
