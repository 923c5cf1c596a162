import { pluginMain } from '@tscni/cni';
import { embedIpamDelegates } from '@tscni/embedded-ipam';
import { dummy } from './dummy';

embedIpamDelegates();
pluginMain(dummy, { about: 'tscni dummy plugin' });
