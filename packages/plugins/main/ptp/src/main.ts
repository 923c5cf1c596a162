import { pluginMain } from '@tscni/cni';
import { embedIpamDelegates } from '@tscni/embedded-ipam';
import { ptp } from './ptp';

embedIpamDelegates();
pluginMain(ptp, { about: 'tscni ptp plugin' });
