/**
 * The CRI surface of the harness: malformed RunPodSandbox requests (missing metadata, huge strings,
 * characters that would reach CNI_ARGS or a path, an unknown runtime handler) get INVALID_ARGUMENT; IDs
 * no sandbox has get NOT_FOUND; requests that are not protobuf at all are refused; none of it leaves a
 * pod, a record, a pause process or anything on the node. The socket is 0660 root:root and a non-root
 * user cannot connect to it even when every directory above it is open.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, missingForKernelTests } from '@tscni/testing/node';
import { CrictlError } from '@tscni/testing/crictl';
import { pauseProcessesOf, recordsIn } from '@tscni/testing/harness-process';
import { expectNodeUnchanged } from '@tscni/testing/node-state';
import { startPodNode, type PodNode } from '@tscni/testing/cluster';

const CHAIN = ['bridge', 'host-local', 'loopback'];
const absent = CHAIN.filter((p) => !existsSync(join(DIST_BIN, p)));
const setpriv = spawnSync('sh', ['-c', 'command -v setpriv && id nobody']).status === 0;
const missing =
  missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft']) ??
  (absent.length ? `needs ${absent.join(', ')}` : undefined);

const conflist = (dirs: PodNode['dirs']) => ({
  cniVersion: '1.0.0',
  name: 'surfnet',
  plugins: [
    {
      type: 'bridge',
      bridge: 'surfbr0',
      isGateway: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.71.0.0/24' }]], dataDir: dirs.ipam },
    },
  ],
});

const meta = { name: 'surf', namespace: 'e2e', uid: 'uid-surf', attempt: 0 };
const HUGE = 'a'.repeat(1 << 20);
/** RunPodSandbox configs the harness must refuse with INVALID_ARGUMENT. */
const BAD_CONFIGS: [string, Record<string, unknown>][] = [
  ['no config', {}],
  ['no metadata', { config: { hostname: 'x' } }],
  ['metadata without a name', { config: { metadata: { ...meta, name: '' } } }],
  ['metadata without a namespace', { config: { metadata: { ...meta, namespace: '' } } }],
  ['metadata without a uid', { config: { metadata: { ...meta, uid: '' } } }],
  ['a 1 MiB name', { config: { metadata: { ...meta, name: HUGE } } }],
  ['a 1 MiB uid', { config: { metadata: { ...meta, uid: HUGE } } }],
  ['a 1 MiB hostname', { config: { metadata: meta, hostname: HUGE } }],
  ['a name with a path', { config: { metadata: { ...meta, name: '../../etc/passwd' } } }],
  ['a namespace that would inject CNI_ARGS', { config: { metadata: { ...meta, namespace: 'e2e;IP=10.71.0.9' } } }],
  ['a uid with a newline', { config: { metadata: { ...meta, uid: 'u\nK8S_POD_NAME=x' } } }],
  ['a hostname with shell metacharacters', { config: { metadata: meta, hostname: 'h;reboot' } }],
  ['an unknown runtime handler', { config: { metadata: meta }, runtime_handler: 'kata' }],
];
/** IDs no sandbox has, for every call that takes one. */
const BAD_IDS = ['', 'ffffffffffff', '../../../etc/passwd', 'x'.repeat(1 << 20), 'id\n;rm -rf /', '0'.repeat(64)];
const ID_METHODS = ['PodSandboxStatus', 'StopPodSandbox', 'RemovePodSandbox'];

describe.skipIf(!!missing)(
  `CRI surface: malformed requests and socket permissions${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let pn: PodNode;
    beforeAll(async () => {
      pn = await startPodNode('surf', Object.fromEntries(CHAIN.map((p) => [p, 'ours'])), conflist);
    });
    afterAll(async () => pn?.teardown());

    /** One call; the gRPC status code it failed with (or 'OK'). */
    const code = (method: string, req: Record<string, unknown>) =>
      pn.crictl.rpc(method, req).then(
        () => 'OK',
        (e: CrictlError) => grpc.status[e.code ?? grpc.status.UNKNOWN],
      );
    const expectNothingLeft = async () => {
      expect(await pn.crictl.pods()).toEqual([]);
      expect(recordsIn(pn.opts.stateDir), 'sandbox records').toEqual([]);
      expect(pauseProcessesOf(pn.opts.stateDir), 'pause processes').toEqual([]);
      // no pod ever starts here, so the snapshot taken at start is the baseline for the whole node state
      expectNodeUnchanged(pn.before, pn.state(), pn.podNetns);
    };

    it.each(BAD_CONFIGS)('RunPodSandbox with %s: INVALID_ARGUMENT', async (_what, req) => {
      expect(await code('RunPodSandbox', req)).toBe('INVALID_ARGUMENT');
    });

    it.each(
      ID_METHODS.flatMap((m) =>
        BAD_IDS.map(
          (id) => [m, id.length > 80 ? `${id.slice(0, 20)}… (${id.length} chars)` : JSON.stringify(id), id] as const,
        ),
      ),
    )('%s of %s: NOT_FOUND or INVALID_ARGUMENT, never anything else', async (method, _shown, id) => {
      const got = await code(method, { pod_sandbox_id: id, verbose: true });
      // CRI (containerd): Stop and Remove of an unknown sandbox are idempotent successes; Status is NOT_FOUND.
      const allowed =
        method === 'PodSandboxStatus' ? ['NOT_FOUND', 'INVALID_ARGUMENT'] : ['OK', 'NOT_FOUND', 'INVALID_ARGUMENT'];
      expect(allowed).toContain(got);
    });

    it('requests that are not protobuf (wrong wire types, truncated, random bytes) are refused and the server keeps serving', async () => {
      const raw = grpc.makeGenericClientConstructor(
        {
          RunPodSandbox: {
            path: '/runtime.v1.RuntimeService/RunPodSandbox',
            requestStream: false,
            responseStream: false,
            requestSerialize: (b: Buffer) => b,
            requestDeserialize: (b: Buffer) => b,
            responseSerialize: (b: Buffer) => b,
            responseDeserialize: (b: Buffer) => b,
          },
        },
        'RuntimeService',
      );
      const client = new raw(`unix://${pn.opts.socket}`, grpc.credentials.createInsecure());
      const send = (bytes: Buffer) =>
        new Promise<string>((resolve) =>
          (client as any).RunPodSandbox(
            bytes,
            { deadline: new Date(Date.now() + 15_000) },
            (err: grpc.ServiceError | null) => resolve(err ? grpc.status[err.code] : 'OK'),
          ),
        );
      try {
        const bodies = [
          Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // config: a length far past the end
          Buffer.from([0x08, 0x01]), // config (field 1) as a varint instead of a message
          Buffer.from([0x0a, 0x04, 0x0a, 0x02, 0x08]), // truncated nested metadata
          Buffer.from([0xff, 0xff, 0xff, 0xff]), // not protobuf at all
          Buffer.alloc(0), // an empty request: no config
        ];
        const got = await Promise.all(bodies.map(send));
        for (const g of got) expect(['INVALID_ARGUMENT', 'INTERNAL']).toContain(g);
        console.log(`cri-surface: non-protobuf RunPodSandbox bodies answered ${got.join(', ')}`);
      } finally {
        client.close();
      }
      expect(await code('Version', { version: '' })).toBe('OK');
      await expectNothingLeft();
    });

    it('after all of it: no pod, record, pause process or anything on the node', async () => {
      await expectNothingLeft();
    });

    it('the socket is 0660 root:root and a non-root user cannot connect, even with every directory above it open', async () => {
      const st = statSync(pn.opts.socket);
      expect(st.mode & 0o777).toBe(0o660);
      expect([st.uid, st.gid]).toEqual([0, 0]);
      if (!setpriv) return console.warn('skipped the non-root connect: needs setpriv and a nobody user');
      // Open the directories (node.tmp is 0700) so that only the socket's own mode stands in the way.
      const dirs = [dirname(pn.opts.socket), dirname(dirname(pn.opts.socket))];
      const modes = dirs.map((d) => statSync(d).mode & 0o777);
      dirs.forEach((d) => chmodSync(d, 0o755));
      try {
        const probe = `require('net').connect(process.argv[1]).on('connect', () => { console.log('CONNECTED'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(1); })`;
        const asNobody = spawnSync(
          'setpriv',
          ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', probe, pn.opts.socket],
          { encoding: 'utf8' },
        );
        expect(asNobody.stdout.trim()).toBe('EACCES');
        // Root, the same probe: connects (so the refusal above is the permission, not a wrong path).
        const asRoot = spawnSync(process.execPath, ['-e', probe, pn.opts.socket], { encoding: 'utf8' });
        expect(asRoot.stdout.trim()).toBe('CONNECTED');
      } finally {
        dirs.forEach((d, i) => chmodSync(d, modes[i]));
      }
    });
  },
);
