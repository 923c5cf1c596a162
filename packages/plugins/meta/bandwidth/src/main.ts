import { pluginMain, versionsSince } from '@tscni/cni';
import { bandwidth } from './bandwidth';

// Like the reference, bandwidth speaks 0.3.0 and later (it needs a result with interfaces).
pluginMain(bandwidth, { about: 'tscni bandwidth plugin', supportedVersions: versionsSince('0.3.0') });
