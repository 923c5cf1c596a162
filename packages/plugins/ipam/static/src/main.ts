import { pluginMain } from '@tscni/cni';
import { staticIPAM } from './static';

pluginMain(staticIPAM, { about: 'tscni static IPAM plugin' });
