import { pluginMain } from '@tscni/cni';
import { dhcp } from './dhcp';
import { USAGE, parseDaemonFlags, wantsHelp } from './daemon/flags';
import { runDaemon } from './daemon/server';

if (process.argv[2] === 'daemon' && wantsHelp(process.argv.slice(3))) {
  process.stderr.write(USAGE);
} else if (process.argv[2] === 'daemon') {
  (async () => runDaemon(parseDaemonFlags(process.argv.slice(3))))().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
} else {
  pluginMain(dhcp, { about: 'tscni dhcp IPAM plugin (run `dhcp daemon` for the lease daemon)' });
}
