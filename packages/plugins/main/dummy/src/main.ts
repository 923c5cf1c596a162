import { pluginMain } from '@tscni/cni';
import { dummy } from './dummy';

pluginMain(dummy, { about: 'tscni dummy plugin' });
