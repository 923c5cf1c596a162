import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests, sh, type TestNode } from '@tscni/testing/node';
import { Crictl, CrictlError } from '@tscni/testing/crictl';
import { decode, encode, num, str, sub } from '@tscni/testing/protowire';
import {
  HarnessProcess,
  killPauses,
  pauseProcessesOf,
  recordsIn,
  spawnOrphanPause,
  startHarnessNode,
  type HarnessOptions,
} from '@tscni/testing/harness-process';
import { RECORDER_DIR } from '@tscni/testing/fake-plugin';

const missing = missingForKernelTests(['ip', 'nsenter', 'unshare', 'flock']);
const FIXTURES = RECORDER_DIR;

/** crictl's pod.json for a host-network pod (`"network": 2` is NODE; enums are integers). */
const nodePod = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    metadata: { name, namespace: 'default', uid: `uid-${name}`, attempt: 0 },
    hostname: `${name}-host`,
    log_directory: '/tmp',
    labels: { app: name, tier: 'test' },
    annotations: { 'example.com/note': 'kept verbatim' },
    linux: { security_context: { namespace_options: { network: 2, pid: 1, ipc: 0 } } },
    ...extra,
  });

const expectCode = async (p: Promise<unknown>, code: grpc.status, text?: RegExp) => {
  const err = (await p.then(
    () => undefined,
    (e) => e,
  )) as CrictlError | undefined;
  expect(err, 'expected the call to fail').toBeInstanceOf(CrictlError);
  expect(err!.code, err!.message).toBe(code);
  if (text) expect(err!.message).toMatch(text);
};

describe.skipIf(!!missing)(`cri-harness runtime service${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  let opts: HarnessOptions;
  let harness: HarnessProcess;
  let crictl: Crictl;

  beforeAll(async () => {
    ({ node, opts, harness } = await startHarnessNode('cri', ['/usr/lib/cni', FIXTURES]));
    crictl = new Crictl(opts.socket);
  });

  afterAll(async () => {
    await harness?.stop();
    if (opts) killPauses(opts.stateDir);
    node?.destroy();
  });

  it('Version sets all four fields (crictl version)', async () => {
    expect(await crictl.version()).toEqual({
      version: '0.1.0',
      runtime_name: 'tscni-cri',
      runtime_version: '0.1.0',
      runtime_api_version: 'v1',
    });
  });

  it('Status has both conditions; NetworkReady is false without a CNI config (crictl info)', async () => {
    const info = await crictl.info();
    const conditions = Object.fromEntries((info.status.conditions as { type: string }[]).map((c) => [c.type, c]));
    expect(conditions.RuntimeReady).toMatchObject({ status: true });
    expect(conditions.NetworkReady).toMatchObject({
      status: false,
      reason: 'NetworkPluginNotReady',
      message: 'Network plugin returns error: cni plugin not initialized',
    });
    expect(info.config).toMatchObject({ socket: opts.socket, stateDir: opts.stateDir });
    expect(info.lastCNILoadStatus).toMatch(/not initialized/);
  });

  it('reports NetworkReady false when a plugin of the network is missing or its STATUS fails', async () => {
    const conf = join(opts.confDir, '10-status.conflist');
    const networkReady = async () =>
      ((await crictl.info()).status.conditions as { type: string }[]).find((c) => c.type === 'NetworkReady');
    try {
      writeFileSync(conf, JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'no-such-plugin' }] }));
      expect(await networkReady()).toMatchObject({
        status: false,
        reason: 'NetworkPluginNotReady',
        message: expect.stringContaining('no-such-plugin'),
      });
      const rec = join(node.tmp, 'status-rec');
      mkdirSync(rec, { recursive: true });
      writeFileSync(
        conf,
        JSON.stringify({ cniVersion: '1.1.0', name: 'n', plugins: [{ type: 'recorder', recordDir: rec }] }),
      );
      expect(await networkReady()).toMatchObject({ status: true });
      writeFileSync(join(rec, 'fail-STATUS'), '');
      expect(await networkReady()).toMatchObject({
        status: false,
        message: expect.stringContaining('recorder: STATUS failure injected'),
      });
    } finally {
      rmSync(conf, { force: true });
    }
    expect(await networkReady()).toMatchObject({
      status: false,
      message: expect.stringContaining('cni plugin not initialized'),
    });
  });

  it('serves on a root-owned socket with mode 0660', () => {
    const st = statSync(opts.socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect([st.uid, st.gid]).toEqual([0, 0]);
  });

  it('refuses a second instance on the same socket with a clear message', async () => {
    const second = HarnessProcess.spawn(node, { ...opts, stateDir: join(node.tmp, 'state2') });
    expect(await second.exited).toBe(1);
    expect(second.stderr).toContain(`another cri-harness (pid ${harness.pid}) is already using ${opts.socket}`);
    expect((await crictl.version()).runtime_name).toBe('tscni-cri');
  });

  it('refuses a second instance on the same state dir', async () => {
    const second = HarnessProcess.spawn(node, { ...opts, socket: join(node.tmp, 'run', 'other.sock') });
    expect(await second.exited).toBe(1);
    expect(second.stderr).toContain(`is already using state dir ${opts.stateDir}`);
  });

  it('answers UNIMPLEMENTED for every other RPC', async () => {
    const client = new grpc.Client(`unix://${opts.socket}`, grpc.credentials.createInsecure());
    const raw = (path: string) =>
      new Promise<grpc.ServiceError>((resolve) =>
        client.makeUnaryRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (err) => resolve(err!),
        ),
      );
    try {
      for (const path of [
        '/runtime.v1.RuntimeService/CreateContainer',
        '/runtime.v1.RuntimeService/ListContainers',
        '/runtime.v1.RuntimeService/ImageFsInfo',
        '/runtime.v1.ImageService/ImageFsInfoX',
        '/runtime.v1alpha2.RuntimeService/Version',
      ]) {
        expect((await raw(path)).code, path).toBe(grpc.status.UNIMPLEMENTED);
      }
    } finally {
      client.close();
    }
  });

  it('serves runtime.v1.ImageService with the CRI field numbers (checked without the .proto)', async () => {
    const client = new grpc.Client(`unix://${opts.socket}`, grpc.credentials.createInsecure());
    const rpc = (method: string, body: Buffer) =>
      new Promise<ReturnType<typeof decode>>((resolve, reject) =>
        client.makeUnaryRequest(
          `/runtime.v1.ImageService/${method}`,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          (err, res) => (err ? reject(err) : resolve(decode(res!))),
        ),
      );
    try {
      // ImageFsInfoResponse.image_filesystems(1): timestamp 1, fs_id 2 {mountpoint 1}, used_bytes 3 {value 1}, inodes_used 4 {value 1}.
      const fs = sub(await rpc('ImageFsInfo', Buffer.alloc(0)), 1);
      expect(Number(num(fs, 1) / 1_000_000n)).toBeGreaterThan(Date.now() - 60_000);
      expect(str(sub(fs, 2), 1)).toMatch(/^\//);
      expect(num(sub(fs, 3), 1)).toBeGreaterThan(0n);
      expect(num(sub(fs, 4), 1)).toBeGreaterThan(0n);
      // ListImagesResponse.images(1): id 1, repo_tags 2, size 4, pinned 8.
      const img = sub(await rpc('ListImages', Buffer.alloc(0)), 1);
      expect(str(img, 1)).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(str(img, 2)).toBe('localhost/tscni-cri/pause:0.1.0');
      expect(num(img, 4)).toBeGreaterThan(0n);
      expect(num(img, 8)).toBe(1n);
      // ImageStatusRequest{image 1 {image 1}} of an image the harness does not hold: no image in the response.
      expect((await rpc('ImageStatus', encode([[1, [[1, 'busybox']]]]))).get(1)).toBeUndefined();
    } finally {
      client.close();
    }
  });

  it('speaks the CRI field numbers on the wire (checked without the .proto)', async () => {
    const client = new grpc.Client(`unix://${opts.socket}`, grpc.credentials.createInsecure());
    const rpc = (method: string, body: Buffer) =>
      new Promise<ReturnType<typeof decode>>((resolve, reject) =>
        client.makeUnaryRequest(
          `/runtime.v1.RuntimeService/${method}`,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          (err, res) => (err ? reject(err) : resolve(decode(res!))),
        ),
      );
    try {
      // VersionResponse: version 1, runtime_name 2, runtime_version 3, runtime_api_version 4.
      const v = await rpc('Version', encode([[1, '']]));
      expect([1, 2, 3, 4].map((n) => str(v, n))).toEqual(['0.1.0', 'tscni-cri', '0.1.0', 'v1']);
      // RunPodSandboxRequest.config(1): metadata(1){name 1, uid 2, namespace 3, attempt 4}, hostname 2,
      // labels 6 (map entries key 1 / value 2), linux 8 → security_context 2 → namespace_options 1 → network 1 = NODE(2).
      const config = encode([
        [
          1,
          [
            [1, 'wire'],
            [2, 'wire-uid'],
            [3, 'wire-ns'],
            [4, 3],
          ],
        ],
        [2, 'wirehost'],
        [
          6,
          [
            [1, 'k'],
            [2, 'v'],
          ],
        ],
        [8, [[2, [[1, [[1, 2]]]]]]],
      ]);
      const run = await rpc('RunPodSandbox', encode([[1, config]]));
      const id = str(run, 1); // pod_sandbox_id 1
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      // PodSandboxStatusResponse.status(1): id 1, metadata 2, state 3 (READY = 0), created_at 4 (ns),
      // linux 6 → namespaces 1 → options 2 → network 1; labels 7.
      const st = sub(await rpc('PodSandboxStatus', encode([[1, id]])), 1);
      expect(str(st, 1)).toBe(id);
      const meta = sub(st, 2);
      expect([str(meta, 1), str(meta, 2), str(meta, 3), num(meta, 4)]).toEqual(['wire', 'wire-uid', 'wire-ns', 3n]);
      expect(num(st, 3)).toBe(0n);
      expect(num(st, 4)).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n);
      expect(num(sub(sub(sub(st, 6), 1), 2), 1)).toBe(2n);
      const label = sub(st, 7);
      expect([str(label, 1), str(label, 2)]).toEqual(['k', 'v']);
      // ListPodSandboxResponse.items(1): id 1; StopPodSandbox then state NOTREADY (1).
      const list = await rpc('ListPodSandbox', encode([[1, [[1, id.slice(0, 13)]]]]));
      expect(list.get(1)!.map((item) => str(decode(item as Buffer), 1))).toEqual([id]);
      await rpc('StopPodSandbox', encode([[1, id]]));
      expect(num(sub(await rpc('PodSandboxStatus', encode([[1, id]])), 1), 3)).toBe(1n);
      await rpc('RemovePodSandbox', encode([[1, id]]));
      // StatusResponse.status(1).conditions(1): type 1, status 2, reason 3, message 4.
      const conditions = sub(await rpc('Status', encode([])), 1)
        .get(1)!
        .map((c) => decode(c as Buffer));
      expect(conditions.map((c) => [str(c, 1), num(c, 2)])).toEqual([
        ['RuntimeReady', 1n],
        ['NetworkReady', 0n],
      ]);
      expect(str(conditions[1], 3)).toBe('NetworkPluginNotReady');
    } finally {
      client.close();
    }
  });

  it('runs a host-network pod: no netns, no CNI, a pause process with its own UTS/IPC and hostname', async () => {
    const id = await crictl.runp(nodePod('hostpod'));
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    try {
      const { status, info } = (await crictl.inspectp(id)) as any;
      expect(status).toMatchObject({
        id,
        state: 'SANDBOX_READY',
        metadata: { name: 'hostpod', namespace: 'default', uid: 'uid-hostpod', attempt: 0 },
        network: { ip: '', additional_ips: [] },
        linux: { namespaces: { options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
        labels: { app: 'hostpod', tier: 'test' },
        annotations: { 'example.com/note': 'kept verbatim' },
        runtime_handler: '',
      });
      expect(BigInt(status.created_at)).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n);
      expect(info).toMatchObject({ netns: '', netNamespaceClosed: true, processStatus: 'running', cniResult: null });
      const pid = info.pid as number;
      expect(pauseProcessesOf(opts.stateDir)).toContain(pid);
      // Its own UTS namespace with the pod's hostname, its own IPC namespace, the node's network.
      expect(sh('nsenter', [`--target=${pid}`, '--uts', '--', 'hostname']).trim()).toBe('hostpod-host');
      const ns = (p: string, t: string) => statSync(`/proc/${p}/ns/${t}`).ino;
      expect(ns(String(pid), 'uts')).not.toBe(ns('self', 'uts'));
      expect(ns(String(pid), 'ipc')).not.toBe(ns('self', 'ipc'));
      expect(ns(String(pid), 'net')).toBe(statSync(node.path).ino);
      // Not Node.js: a sleeper costing far below 1 MB (its RSS is ~1.7 MB, nearly all libc pages shared with
      // every other process; the proportional share (Pss) and the private part are ~200 kB and ~100 kB).
      expect(sh('cat', [`/proc/${pid}/comm`]).trim()).toBe('sleep');
      const rollup = sh('cat', [`/proc/${pid}/smaps_rollup`]);
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)![1]);
      expect(kb('Pss')).toBeLessThan(1024);
      expect(kb('Private_Dirty') + kb('Private_Clean')).toBeLessThan(512);
    } finally {
      await crictl.rmp(id, true);
    }
    expect(pauseProcessesOf(opts.stateDir)).toEqual([]);
    expect(recordsIn(opts.stateDir)).toEqual([]);
  });

  it('lists with crictl filters: id prefix, state, labels', async () => {
    const a = await crictl.runp(nodePod('list-a'));
    const b = await crictl.runp(nodePod('list-b'));
    try {
      await crictl.stopp(b.slice(0, 13));
      const all = await crictl.pods();
      expect(all.map((p: any) => p.id)).toEqual([b, a]); // newest first
      expect((await crictl.pods({ id: a.slice(0, 13) })).map((p: any) => p.id)).toEqual([a]);
      expect((await crictl.pods({ state: 'ready' })).map((p: any) => p.id)).toEqual([a]);
      expect((await crictl.pods({ state: 'notready' })).map((p: any) => p.id)).toEqual([b]);
      expect((await crictl.pods({ labels: { app: 'list-b' } })).map((p: any) => p.id)).toEqual([b]);
      expect(await crictl.pods({ labels: { app: 'list-b', tier: 'prod' } })).toEqual([]);
      expect(await crictl.pods({ id: 'ffffffffffffff0' })).toEqual([]);
      const item = all.find((p: any) => p.id === a) as any;
      expect(item).toMatchObject({
        state: 'SANDBOX_READY',
        metadata: { name: 'list-a' },
        labels: { app: 'list-a', tier: 'test' },
        annotations: { 'example.com/note': 'kept verbatim' },
      });
    } finally {
      await crictl.rmp(a, true);
      await crictl.rmp(b);
    }
    expect(await crictl.pods()).toEqual([]);
  });

  it('resolves unique id prefixes, NOT_FOUND for unknown ids; stop and remove are idempotent', async () => {
    const id = await crictl.runp(nodePod('prefix'));
    const short = id.slice(0, 13);
    expect((await crictl.inspectp(short)).status.id).toBe(id);
    await expect(crictl.rmp(short)).rejects.toThrow(`pod sandbox "${short}" is running, please stop it first`);
    await crictl.stopp(short);
    await crictl.stopp(short);
    expect((await crictl.inspectp(short)).status.state).toBe('SANDBOX_NOTREADY');
    await crictl.rmp(short);
    // crictl rmp asks for the status first (NOT_FOUND now); the kubelet's plain Remove of a removed pod is OK.
    await expectCode(crictl.rmp(id), grpc.status.NOT_FOUND);
    expect(await crictl.rpc('RemovePodSandbox', { pod_sandbox_id: id })).toEqual({});
    await expectCode(crictl.inspectp(id), grpc.status.NOT_FOUND, /not found/);
    await expectCode(crictl.stopp(id), grpc.status.NOT_FOUND, /not found/);
    await expectCode(crictl.inspectp('0123456789abcdef'), grpc.status.NOT_FOUND);
  });

  it('refuses a duplicate name/namespace/uid/attempt and frees the name on remove', async () => {
    const id = await crictl.runp(nodePod('dup'));
    await expectCode(
      crictl.runp(nodePod('dup')),
      grpc.status.ALREADY_EXISTS,
      new RegExp(
        `failed to reserve sandbox name "dup_default_uid-dup_0": name "dup_default_uid-dup_0" is reserved for "${id}"`,
      ),
    );
    const next = await crictl.runp(
      nodePod('dup', { metadata: { name: 'dup', namespace: 'default', uid: 'uid-dup', attempt: 1 } }),
    );
    await crictl.rmp(id, true);
    await crictl.rmp(next, true);
    const again = await crictl.runp(nodePod('dup'));
    await crictl.rmp(again, true);
  });

  it('validates pod metadata, naming the field', async () => {
    await expectCode(crictl.runp(JSON.stringify({ hostname: 'x' })), grpc.status.INVALID_ARGUMENT, /metadata/);
    await expectCode(
      crictl.runp(nodePod('bad', { metadata: { name: 'bad', namespace: 'default', uid: '' } })),
      grpc.status.INVALID_ARGUMENT,
      /metadata.uid is required/,
    );
    await expectCode(
      crictl.runp(nodePod('bad', { metadata: { name: 'a;b=c', namespace: 'default', uid: 'u' } })),
      grpc.status.INVALID_ARGUMENT,
      /metadata.name/,
    );
    await expectCode(crictl.runp(nodePod('bad', { hostname: '-bad host' })), grpc.status.INVALID_ARGUMENT, /hostname/);
    await expectCode(
      crictl.runp(nodePod('bad'), { runtime: 'kata' }),
      grpc.status.INVALID_ARGUMENT,
      /no runtime for "kata"/,
    );
    // crictl's own check: enums in pod.json are integers.
    await expect(
      crictl.runp(nodePod('bad', { port_mappings: [{ protocol: 'TCP', container_port: 80 }] })),
    ).rejects.toThrow(/cannot unmarshal string/);
    expect(await crictl.pods()).toEqual([]);
  });

  it('refuses a pod-network pod while no CNI config is loaded, creating nothing', async () => {
    const pod = JSON.stringify({ metadata: { name: 'netpod', namespace: 'default', uid: 'u1', attempt: 0 } });
    await expectCode(crictl.runp(pod), grpc.status.FAILED_PRECONDITION, /cni plugin not initialized/);
    expect(recordsIn(opts.stateDir)).toEqual([]);
  });

  it('survives kill -9: pods keep running, are recovered, and can be stopped and removed; orphans are cleaned', async () => {
    const id = await crictl.runp(nodePod('survivor'));
    const pid = ((await crictl.inspectp(id)) as any).info.pid;
    await harness.kill9();
    expect(pauseProcessesOf(opts.stateDir)).toEqual([pid]);
    expect(statSync(opts.socket).isSocket()).toBe(true); // stale: nobody listens on it any more
    // An orphan pause process (as if the harness died between spawning it and saving the record).
    const orphan = spawnOrphanPause(opts.stateDir, 'e'.repeat(64));
    // A record left mid-RunPodSandbox, with its netns already pinned.
    const half = {
      id: 'd'.repeat(64),
      runtimeHandler: '',
      createdAt: '1',
      state: 'creating',
      netns: `/var/run/netns/cni-${randomUUID()}`,
      config: JSON.parse(nodePod('half')),
    };
    sh('ip', ['netns', 'add', half.netns.slice('/var/run/netns/'.length)]);
    writeFileSync(join(opts.stateDir, 'sandboxes', `${half.id}.json`), JSON.stringify(half));
    harness = await HarnessProcess.start(node, opts); // also replaces the stale socket
    expect(harness.logs.some((l) => l.msg === 'KillOrphanPause' && l.pid === orphan)).toBe(true);
    expect(harness.logs.some((l) => l.msg === 'RecoverPodSandbox' && l.sandbox === half.id)).toBe(true);
    expect(existsSync(half.netns)).toBe(false);
    const [item] = (await crictl.pods()) as any[];
    expect(item).toMatchObject({ id, state: 'SANDBOX_READY', metadata: { name: 'survivor' } });
    await crictl.rmp(id, true);
    expect(pauseProcessesOf(opts.stateDir)).toEqual([]);
    expect(recordsIn(opts.stateDir)).toEqual([]);
  });

  it('SIGTERM stops serving and removes the socket; pods keep running and are found again', async () => {
    const id = await crictl.runp(nodePod('graceful'));
    const pid = ((await crictl.inspectp(id)) as any).info.pid;
    expect(await harness.stop()).toBe(0);
    expect(existsSync(opts.socket)).toBe(false);
    expect(pauseProcessesOf(opts.stateDir)).toEqual([pid]);
    harness = await HarnessProcess.start(node, opts);
    expect((await crictl.inspectp(id)).status.state).toBe('SANDBOX_READY');
    await crictl.rmp(id, true);
    expect(pauseProcessesOf(opts.stateDir)).toEqual([]);
  });

  it('logs one structured line per pod event with its duration and the time of its steps', () => {
    const events = harness.logs.filter((l) => l.msg === 'RemovePodSandbox');
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]).toMatchObject({
      level: 'info',
      sandbox: expect.stringMatching(/^[0-9a-f]{64}$/),
      durationMs: expect.any(Number),
      // The record's removal is a step of every RemovePodSandbox.
      steps: expect.objectContaining({ save: expect.any(Number) }),
    });
  });
});
