// The daemon is an accelerator, never a dependency (docs/resident.md): when tscni-plugind is stopped, killed, declines
// the calls or is switched off, the shims run tscni-cni themselves and the Kubernetes chain through libcni gives what
// the exec'd plugins give, with the node as it was afterwards. Which way each call went shows in the processes of
// our Bun executable it started (none when the daemon ran it). Each test has a node of its own.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { sh } from '@tscni/testing/node';
import { expectNodeUnchanged } from '@tscni/testing/node-state';
import { callsRun, chainFrom, EXEC_BIN, missingForResident, RESIDENT_BIN, ResidentNode } from './resident-node';

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
    expect(callsRun(daemon)).toHaveLength(EXEC_CALLS);
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
    expect(callsRun(next)).toHaveLength(EXEC_CALLS);
    expect(next.logs.filter((l) => l.startsWith('declined'))).toEqual([]);
    expectNodeUnchanged(before, rn.snapshot());
  });

  it('a daemon that declines every call (other TSCNI_* settings): each shim replays its call, stdin and all, to tscni-cni', async (ctx) => {
    const { rn, resident, before, byExec } = await setup('rsd', ctx);
    const env = { TSCNI_PLUGIND_SOCKET: rn.socket() };
    const daemon = await rn.daemon(rn.socket(), {
      ...rn.settings(),
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
    expect(callsRun(daemon)).toEqual([]);
    expectNodeUnchanged(before, rn.snapshot());
  });

  it('a runtime in another mount namespace: the daemon declines its calls (their paths resolve there), the shims run them', async (ctx) => {
    const { rn, resident, before, byExec } = await setup('rsw', ctx);
    const daemon = await rn.daemon();
    const fallen = await rn.lifecycle(resident, { TSCNI_PLUGIND_SOCKET: rn.socket() }, 'iptables', true);
    expect(fallen.bunStarts).toHaveLength(EXEC_CALLS);
    expect(fallen.checkError).toBeUndefined();
    expect(fallen.seen).toEqual(byExec.seen);
    expect(fallen.left).toEqual(clean);
    expect(daemon.logs.filter((l) => l.startsWith('declined'))).toEqual([
      'declined: the caller is in another mount namespace',
    ]);
    expect(callsRun(daemon)).toEqual([]);
    expectNodeUnchanged(before, rn.snapshot());
  });

  it('TSCNI_PLUGIND=off: the shims run tscni-cni without asking the daemon', async (ctx) => {
    const { rn, resident, before, byExec } = await setup('rso', ctx);
    const daemon = await rn.daemon();
    // The daemon would take these calls (TSCNI_PLUGIND* are not settings it compares): every Bun start is the switch's.
    const off = await rn.lifecycle(resident, { TSCNI_PLUGIND_SOCKET: rn.socket(), TSCNI_PLUGIND: 'off' });
    expect(off.bunStarts).toHaveLength(EXEC_CALLS);
    expect(callsRun(daemon)).toEqual([]);
    expect(off.seen).toEqual(byExec.seen);
    expect(off.left).toEqual(clean);
    expect((await rn.lifecycle(resident, { TSCNI_PLUGIND_SOCKET: rn.socket() })).bunStarts).toEqual([]);
    expect(callsRun(daemon)).toHaveLength(EXEC_CALLS);
    expect(daemon.logs.filter((l) => l.startsWith('declined'))).toEqual([]);
    expectNodeUnchanged(before, rn.snapshot());
  });

  it('an upgrade the daemon was not restarted for (an install with another tscni-cni): declined, the shims run the new file; a daemon from it serves again', async (ctx) => {
    const { rn, before, byExec } = await setup('rsu', ctx);
    const installed = rn.install('new');
    const env = { TSCNI_PLUGIND_SOCKET: rn.socket() };
    const old = await rn.daemon(); // the build's tscni-cni, not the installed one
    const fallen = await rn.lifecycle(installed, env);
    expect(fallen.bunStarts).toEqual(Array(EXEC_CALLS).fill(join(installed, 'tscni-cni')));
    expect(fallen.seen).toEqual(byExec.seen);
    expect(fallen.left).toEqual(clean);
    expect(old.logs.filter((l) => l.startsWith('declined'))).toEqual([
      `declined: ${installed}/tscni-cni is not the executable this daemon runs (upgraded? restart tscni-plugind)`,
    ]);
    expect(callsRun(old)).toEqual([]);

    // Restarted from the installed file, it takes the calls again.
    expect(await old.stop()).toEqual({ code: 0, signal: null });
    const restarted = await rn.daemon(rn.socket(), rn.settings(), join(installed, 'tscni-cni'));
    const served = await rn.lifecycle(installed, env);
    expect(served.bunStarts).toEqual([]);
    expect(callsRun(restarted)).toHaveLength(EXEC_CALLS);
    expect(served.seen).toEqual(byExec.seen);
    expectNodeUnchanged(before, rn.snapshot());
  });

  it('a daemon that dies with a call in its hands: the shim fails the call (code 11) and does not run it again', async (ctx) => {
    const rn = new ResidentNode('rsx');
    ctx.onTestFinished(() => rn.dispose());
    const daemon = await rn.daemon();
    const pod = rn.node.addPod('x');
    // Stopped, it accepts no connection: the shim's waits in the listen backlog.
    process.kill(daemon.pid, 'SIGSTOP');
    const env = {
      PATH: process.env.PATH!,
      ...rn.pluginEnv({ TSCNI_PLUGIND_SOCKET: rn.socket() }),
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'dies-1',
      CNI_NETNS: pod,
      CNI_IFNAME: 'lo',
      CNI_PATH: RESIDENT_BIN,
    };
    const shim = spawn('nsenter', [`--net=${rn.node.path}`, '--', join(RESIDENT_BIN, 'loopback')], { env });
    let stdout = '';
    shim.stdout.on('data', (d: Buffer) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => shim.on('close', resolve));
    shim.stdin.end('{"cniVersion":"1.0.0","name":"lo-net","type":"loopback"}');
    // Until the shim (nsenter execs it: the same pid) has sent its request and waits for the answer: read(2) on a socket.
    const waiting = () => {
      try {
        const [nr, fd] = readFileSync(`/proc/${shim.pid}/syscall`, 'utf8').split(' ');
        return nr === '0' && readlinkSync(`/proc/${shim.pid}/fd/${Number(fd)}`).startsWith('socket:');
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 1000 && !waiting(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(waiting()).toBe(true);
    expect(await daemon.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    expect(await exited).toBe(1);
    const err = JSON.parse(stdout) as { code: number; msg: string };
    expect(err.code, stdout).toBe(11);
    expect(err.msg).toMatch(/^tscni-plugind: /);
    expect(rn.bunStarts()).toEqual([]); // no fallback: the call may have been half done
    expect(sh('ip', ['-n', basename(pod), '-j', 'link', 'show', 'lo'])).not.toMatch(/"UP"/);
  });
});
