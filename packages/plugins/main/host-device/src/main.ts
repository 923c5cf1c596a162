import { pluginMain } from '@tscni/cni';
import { hostDevice } from './host-device';

pluginMain(hostDevice, { about: 'tscni host-device plugin' });
