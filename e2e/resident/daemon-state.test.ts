// A daemon lives on between pods, the plugins it runs must not: whatever a long-lived process could remember of the
// node (a bridge it made, the iptables chains or nftables tables it set up) is read again on each call. The node's
// state is taken away between pods behind the daemon's back — the bridge deleted, every iptables and nftables rule
// flushed (a firewall reload) — and the next pod through the daemon is as whole as an exec'd one on a fresh node.
import { describe, expect, it } from 'vitest';
import { expectNodeUnchanged } from '@tscni/testing/node-state';
import { callsRun, chainFrom, EXEC_BIN, missingForResident, RESIDENT_BIN, ResidentNode } from './resident-node';

const missing = missingForResident();
const clean = { cache: [], leases: [], tuning: [], podLinks: ['lo'], veths: [] };

describe.skipIf(!!missing)(
  `resident mode, state behind the daemon's back${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    it.for(['iptables', 'nftables'] as const)(
      'the bridge deleted and every rule flushed between pods (%s): the next pod through the daemon is whole',
      async (backend, ctx) => {
        const rn = new ResidentNode(backend === 'iptables' ? 'rss' : 'rsz');
        ctx.onTestFinished(() => rn.dispose());
        const exec = rn.binDir('exec', chainFrom(EXEC_BIN));
        const resident = rn.binDir('resident', chainFrom(RESIDENT_BIN));
        const daemon = await rn.daemon();
        const env = { TSCNI_PLUGIND_SOCKET: rn.socket() };
        await rn.lifecycle(exec, env, backend);
        const before = rn.snapshot();
        const byExec = await rn.lifecycle(exec, env, backend);
        expect((await rn.lifecycle(resident, env, backend)).bunStarts).toEqual([]); // the daemon has run the chain once

        rn.node.exec('ip', ['link', 'del', 'rsbr0']);
        for (const table of ['nat', 'filter']) {
          rn.node.exec('iptables', ['-t', table, '-F']);
          rn.node.exec('iptables', ['-t', table, '-X']);
        }
        rn.node.exec('nft', ['flush', 'ruleset']);

        const again = await rn.lifecycle(resident, env, backend);
        expect(again.bunStarts).toEqual([]);
        expect(again.checkError).toBeUndefined();
        expect(again.seen).toEqual(byExec.seen);
        expect(again.left).toEqual(clean);
        expect(callsRun(daemon).filter((c) => !c.endsWith(': exit 0'))).toEqual([]);
        expectNodeUnchanged(before, rn.snapshot());
      },
    );
  },
);
