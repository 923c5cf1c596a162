import { runPlugin } from '@tscni/cni/lazy-main';
import type { DaemonFlags } from './daemon/flags';

function daemonMain(argv: string[]): void {
  const { USAGE, parseDaemonFlags, wantsHelp } = require('./daemon/flags') as typeof import('./daemon/flags');
  const { runDaemon } = require('./daemon/server') as typeof import('./daemon/server');
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
else
  runPlugin(() => (require('./dhcp') as typeof import('./dhcp')).dhcp, {
    about: 'tscni dhcp IPAM plugin (run `dhcp daemon` for the lease daemon)',
  });
