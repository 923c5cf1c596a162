import { pluginMain } from '@tscni/cni';
import { embedIpamDelegates } from '@tscni/embedded-ipam';
import { bridge } from './bridge';

embedIpamDelegates();
pluginMain(bridge, { about: 'tscni bridge plugin' });
