// The daemon is an accelerator, never a dependency (docs/resident.md): when tscni-plugind is stopped, killed, declines
// the calls or is switched off, the shims run tscni-cni themselves and the Kubernetes chain through libcni gives what
// the exec'd plugins give, with the node as it was afterwards. Which way each call went shows in the processes of
// our Bun executable it started (none when the daemon ran it). Each test has a node of its own.
import { existsSync, statSync } from 'node:fs';
import { describe, expect, it, type TestContext } from 'vitest';
import { expectNodeUnchanged } from '@tscni/testing/node-state';
import { chainFrom, EXEC_BIN, missingForResident, RESIDENT_BIN, ResidentNode, tscniSettings } from './resident-node';

const missing = missingForResident();
const clean = { cache: [], leases: [], tuning: [], podLinks: ['lo'], veths: [] };
/** ADD, CHECK and DEL of the chain's 4 plugins, each in a process of its own. */
const EXEC_CALLS = 12;

describe.skipIf(!!missing)(`resident mode falls back${missing ? ` — skipped: ${missing}` : ''}`, () => {
  /** A node of this test's (gone when the test is, whatever its outcome), the exec'd chain's outcome, and the baseline after a first pod. */
  async function setup(tag: string, ctx: TestContext) {
    const rn = new ResidentNode(tag);
    ctx.onTestFinished(() => rn.dispose());
    const exec = rn.binDir('exec', chainFrom(EXEC_BIN));
    const resident = rn.binDir('resident', chainFrom(RESIDENT_BIN));
    await rn.lifecycle(exec);
    const before = rn.snapshot();
    const byExec = await rn.lifecycle(exec);
    expect(byExec.bunStarts).toHaveLength(EXEC_CALLS);
    expect(byExec.checkError).toBeUndefined();
    expect(byExec.left).toEqual(clean);
    return { rn, resident, before, byExec };
  }

  it('a daemon stopped (SIGTERM): the shims find no socket and run tscni-cni; the chain gives the same', async (ctx) => {
    const { rn, resident, before, byExec } = await setup('rsf', ctx);
    const env = { TSCNI_PLUGIND_SOCKET: rn.socket() };
    const daemon = await rn.daemon();
    expect((await rn.lifecycle(resident, env)).bunStarts).toEqual([]); // served
    expect(await daemon.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(existsSync(rn.socket())).toBe(false);

    const fallen = await rn.lifecycle(resident, env);
    expect(fallen.bunStarts).toHaveLength(EXEC_CALLS);
    expect(fallen.checkError).toBeUndefined();
    expect(fallen.seen).toEqual(byExec.seen);
    expect(fallen.left).toEqual(clean);
    expectNodeUnchanged(before, rn.snapshot());
  });

  it('a daemon SIGKILLed while idle: its stale socket refuses, the next calls fall back; a new daemon takes over', async (ctx) => {
    const { rn, resident, before, byExec } = await setup('rsk', ctx);
    const env = { TSCNI_PLUGIND_SOCKET: rn.socket() };
    const daemon = await rn.daemon();
    expect((await rn.lifecycle(resident, env)).bunStarts).toEqual([]);
    expect(await daemon.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(statSync(rn.socket()).isSocket()).toBe(true); // left behind: nobody listens on it

    const fallen = await rn.lifecycle(resident, env);
    expect(fallen.bunStarts).toHaveLength(EXEC_CALLS);
    expect(fallen.checkError).toBeUndefined();
    expect(fallen.seen).toEqual(byExec.seen);
    expect(fallen.left).toEqual(clean);

    // A new daemon replaces the stale socket and serves the next pod.
    const next = await rn.daemon();
    const served = await rn.lifecycle(resident, env);
    expect(served.bunStarts).toEqual([]);
    expect(served.seen).toEqual(byExec.seen);
    expect(next.logs.filter((l) => l.startsWith('declined'))).toEqual([]);
    expectNodeUnchanged(before, rn.snapshot());
  });

  it('a daemon that declines every call (other TSCNI_* settings): each shim replays its call, stdin and all, to tscni-cni', async (ctx) => {
    const { rn, resident, before, byExec } = await setup('rsd', ctx);
    const env = { TSCNI_PLUGIND_SOCKET: rn.socket() };
    const daemon = await rn.daemon(rn.socket(), {
      ...tscniSettings(),
      TSCNI_IPMASQ_STATE_DIR: '/nonexistent/elsewhere',
    });
    const fallen = await rn.lifecycle(resident, env);
    expect(fallen.bunStarts).toHaveLength(EXEC_CALLS);
    expect(fallen.checkError).toBeUndefined();
    expect(fallen.seen).toEqual(byExec.seen);
    expect(fallen.left).toEqual(clean);
    expect(daemon.logs.filter((l) => l.startsWith('declined'))).toEqual([
      "declined: the caller's TSCNI_* settings differ from the daemon's",
    ]);
    expectNodeUnchanged(before, rn.snapshot());
  });

  it('TSCNI_PLUGIND=off: the shims run tscni-cni without asking the daemon', async (ctx) => {
    const { rn, resident, before, byExec } = await setup('rso', ctx);
    const daemon = await rn.daemon();
    // The daemon would take these calls (TSCNI_PLUGIND* are not settings it compares): every Bun start is the switch's.
    const off = await rn.lifecycle(resident, { TSCNI_PLUGIND_SOCKET: rn.socket(), TSCNI_PLUGIND: 'off' });
    expect(off.bunStarts).toHaveLength(EXEC_CALLS);
    expect(off.seen).toEqual(byExec.seen);
    expect(off.left).toEqual(clean);
    expect((await rn.lifecycle(resident, { TSCNI_PLUGIND_SOCKET: rn.socket() })).bunStarts).toEqual([]);
    expect(daemon.logs).toHaveLength(1); // only "serving …": nothing declined
    expectNodeUnchanged(before, rn.snapshot());
  });
});
