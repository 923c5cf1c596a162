import { pluginMain } from '@tscni/cni';
import { portmap } from './portmap';

pluginMain(portmap, { about: 'tscni portmap plugin' });
