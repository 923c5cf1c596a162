import { setIpInProcess } from './runner';

/**
 * `useIpInProcess` (./ip-in-process) for a plugin whose calls often run no `ip` (bandwidth without limits, portmap's
 * DEL and CHECK): the interpreter (./rtnetlink) is loaded by the first `ip` command rather than with the plugin, as
 * loading it costs ≈ 0.5 ms of CPU in the executable. Under Node nothing changes: `ip` in-process is Bun's only
 * (./rtnetlink/sys), and Node could not load the interpreter's sources this way.
 */
export function useIpInProcessOnDemand(): void {
  if (!process.versions.bun) return;
  setIpInProcess((args, opts, spawn) =>
    (require('./rtnetlink') as typeof import('./rtnetlink')).ipInProcess(args, opts, spawn),
  );
}
