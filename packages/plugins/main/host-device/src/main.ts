import { pluginMain } from '@tscni/cni';
import { embedIpamDelegates } from '@tscni/embedded-ipam';
import { hostDevice } from './host-device';

embedIpamDelegates();
pluginMain(hostDevice, { about: 'tscni host-device plugin' });
