// Resident mode through a runtime (libcni): the Kubernetes chain (bridge with ipMasq → portmap → bandwidth → tuning)
// run through the shims (dist/bun/cni-resident) while tscni-plugind serves gives exactly what the exec'd executables
// (dist/bun/cni-bin) give — the CNI result, libcni's cache file, the pod's addresses, links and routes, the node's
// iptables rules and qdiscs — and not one process of our Bun executable starts: the daemon ran every call. The same
// with the reference portmap in the middle of ours. Each test has a node of its own; the node is as it was after.
import { describe, expect, it, type TestContext } from 'vitest';
import { expectNodeUnchanged } from '@tscni/testing/node-state';
import {
  chainFrom,
  EXEC_BIN,
  missingForResident,
  PORT,
  REFERENCE,
  referenceHas,
  RESIDENT_BIN,
  ResidentNode,
} from './resident-node';

const missing = missingForResident();
const clean = { cache: [], leases: [], tuning: [], podLinks: ['lo'], veths: [] };

describe.skipIf(!!missing)(`resident mode vs exec through libcni${missing ? ` — skipped: ${missing}` : ''}`, () => {
  /** A node of this test's, gone when the test is, whatever its outcome. */
  const residentNode = (tag: string, ctx: TestContext) => {
    const rn = new ResidentNode(tag);
    ctx.onTestFinished(() => rn.dispose());
    return rn;
  };

  it('the chain’s ADD, CHECK and DEL through the shims give what the exec’d plugins give, and the daemon ran every call', async (ctx) => {
    const rn = residentNode('rsp', ctx);
    const daemon = await rn.daemon();
    const exec = rn.binDir('exec', chainFrom(EXEC_BIN));
    const resident = rn.binDir('resident', chainFrom(RESIDENT_BIN));
    const env = { TSCNI_PLUGIND_SOCKET: rn.socket() };
    // A first pod makes what outlives pods (the bridge, the shared chains): the whole-node baseline is taken after it.
    await rn.lifecycle(exec, env);
    const before = rn.snapshot();

    const byExec = await rn.lifecycle(exec, env);
    const byShims = await rn.lifecycle(resident, env);
    // Our Bun executable started once for each exec'd call (ADD, CHECK and DEL of 4 plugins; host-local runs embedded
    // in bridge), and never through the shims.
    expect(byExec.bunStarts).toHaveLength(12);
    expect(byShims.bunStarts).toEqual([]);
    expect(daemon.logs.filter((l) => l.startsWith('declined') || l.includes('error'))).toEqual([]);

    expect(byShims.seen.result).toMatchObject({ ips: [{ address: '10.126.0.2/24', gateway: '10.126.0.1' }] });
    expect(byShims.seen.nat).toContainEqual(
      expect.stringMatching(new RegExp(`--dport ${PORT} .*--to-destination 10\\.126\\.0\\.2:80`)),
    );
    expect(byShims.seen.qdiscs).toContainEqual(expect.objectContaining({ kind: 'tbf', dev: '<veth>' }));
    expect(byShims.seen.podLinks).toContain('eth0 mtu 1400 up');
    expect(byShims.seen.podSysctl).toBe('1');
    expect(Object.keys(byShims.seen.cache)).toEqual(['k8s-resident-pod-1-eth0']);
    expect(byShims.seen).toEqual(byExec.seen);
    expect([byExec.checkError, byShims.checkError]).toEqual([undefined, undefined]);
    expect(byExec.left).toEqual(clean);
    expect(byShims.left).toEqual(clean);
    expectNodeUnchanged(before, rn.snapshot());
    expect(daemon.running).toBe(true);
  });

  it.skipIf(!referenceHas('portmap'))(
    'a mixed chain — the reference portmap between our shims — works, and gives what it gives exec’d',
    async (ctx) => {
      const rn = residentNode('rsm', ctx);
      const daemon = await rn.daemon();
      const exec = rn.binDir('exec', chainFrom(EXEC_BIN, { portmap: REFERENCE }));
      const mixed = rn.binDir('mixed', chainFrom(RESIDENT_BIN, { portmap: REFERENCE }));
      const env = { TSCNI_PLUGIND_SOCKET: rn.socket() };
      await rn.lifecycle(exec, env);
      const before = rn.snapshot();

      const byExec = await rn.lifecycle(exec, env);
      const byShims = await rn.lifecycle(mixed, env);
      // Exec'd: ADD and DEL of our 3, CHECK of bridge (the chain's CHECK stops at portmap's); through the shims: none.
      expect(byExec.bunStarts).toHaveLength(7);
      expect(byShims.bunStarts).toEqual([]);
      expect(byShims.seen.nat).toContainEqual(
        expect.stringMatching(new RegExp(`--dport ${PORT} .*--to-destination 10\\.126\\.0\\.2:80`)),
      );
      expect(byShims.seen).toEqual(byExec.seen);
      // The reference portmap's known CHECK weakness on a v4-only pod, the same both ways; our bridge's CHECK before it passed.
      expect(byShims.checkError).toMatch(/type="portmap".*failed \(check\): could not check ipv6 dnat/);
      expect(byShims.checkError).toBe(byExec.checkError);
      expect(byShims.left).toEqual(clean);
      expectNodeUnchanged(before, rn.snapshot());
      expect(daemon.logs.filter((l) => l.startsWith('declined') || l.includes('error'))).toEqual([]);
    },
  );
});
