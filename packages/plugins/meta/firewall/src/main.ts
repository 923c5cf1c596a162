import { pluginMain, versionsSince } from '@tscni/cni';
import { firewall } from './firewall';

pluginMain(firewall, { about: 'tscni firewall plugin', supportedVersions: versionsSince('0.4.0') });
