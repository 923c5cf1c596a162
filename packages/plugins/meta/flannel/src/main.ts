import { pluginMain } from '@tscni/cni';
import { flannel } from './flannel';

pluginMain(flannel, { about: 'tscni flannel plugin' });
