import { pluginMain } from '@tscni/cni';
import { dhcp } from './dhcp';
import { USAGE, parseDaemonFlags, wantsHelp, type DaemonFlags } from './daemon/flags';
import { runDaemon } from './daemon/server';

function daemonMain(argv: string[]): void {
  if (wantsHelp(argv)) return void process.stderr.write(USAGE);
  let flags: DaemonFlags;
  try {
    flags = parseDaemonFlags(argv);
  } catch (err) {
    // Like Go's flag package: the problem, the usage, exit status 2.
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  runDaemon(flags).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}

if (process.argv[2] === 'daemon') daemonMain(process.argv.slice(3));
else pluginMain(dhcp, { about: 'tscni dhcp IPAM plugin (run `dhcp daemon` for the lease daemon)' });
