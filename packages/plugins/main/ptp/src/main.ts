import { pluginMain } from '@tscni/cni';
import { ptp } from './ptp';

pluginMain(ptp, { about: 'tscni ptp plugin' });
