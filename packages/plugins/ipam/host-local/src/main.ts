import { pluginMain } from '@tscni/cni';
import { hostLocal } from './host-local';

pluginMain(hostLocal, { about: 'tscni host-local IPAM plugin' });
