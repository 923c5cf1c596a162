/**
 * The plugin shim (src/shim.c, docs/resident.md protocol 1), the real static build in dist/bun/cni-resident (the
 * vitest global setup builds it), against a fake tscni-plugind written here on a socket of each test's own: the
 * request's bytes, the `R` and `F` answers, the fallback to tscni-cni when nobody listens or TSCNI_PLUGIND=off, and
 * a CNI error, never a fallback, when the daemon dies during a call.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ourBuildName } from '@tscni/cni/our-build';
import { TestNode, linksIn, missingForKernelTests } from '@tscni/testing/node';

const repo = join(import.meta.dirname, '../../..');
const RESIDENT = join(repo, 'dist/bun/cni-resident');
const CNI_BIN = join(repo, 'dist/bun/cni-bin');
const LOOPBACK_CONF = JSON.stringify({ cniVersion: '1.0.0', name: 'lo-net', type: 'loopback' });

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** Run `bin` with exactly `env` (no inherited variables) and `stdin`; every byte it prints. */
function run(bin: string, env: Record<string, string>, stdin: Buffer | string = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.stdin.on('error', () => {}); // a fallback that does not read all of stdin
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    child.stdin.end(stdin);
  });
}

/** A request as the daemon reads it. */
interface Request {
  magic: string;
  plugin: string;
  fallback: string;
  netns: string;
  mntns: string;
  env: string[];
  stdin: Buffer;
}

function parseRequest(bytes: Buffer): Request {
  let at = 0;
  const field = (): string => {
    const end = bytes.indexOf(0, at);
    if (end < 0) throw new Error(`request: field at ${at} has no NUL`);
    const s = bytes.toString('utf8', at, end);
    at = end + 1;
    return s;
  };
  const [magic, plugin, fallback, netns, mntns] = [field(), field(), field(), field(), field()];
  const env: string[] = [];
  for (let e = field(); e !== ''; e = field()) env.push(e);
  return { magic, plugin, fallback, netns, mntns, env, stdin: bytes.subarray(at) };
}

/** An `R` answer. */
const answerR = (code: number, stdout: Buffer | string, stderr: Buffer | string = ''): Buffer => {
  const out = Buffer.from(stdout);
  const head = Buffer.alloc(6);
  head.write('R', 0, 'latin1');
  head.writeUInt8(code, 1);
  head.writeUInt32LE(out.length, 2);
  return Buffer.concat([head, out, Buffer.from(stderr)]);
};

/**
 * A fake tscni-plugind: reads each request to its end, then writes `answer(request)` and closes. `early`: answers at
 * once, reads nothing and closes with the request unread (the shim's writes then fail with EPIPE).
 */
class FakeDaemon {
  readonly requests: Buffer[] = [];
  connections = 0;
  private readonly server: Server;

  constructor(
    readonly path: string,
    answer: (request: Buffer) => Buffer,
    early = false,
  ) {
    this.server = createServer((sock) => {
      this.connections++;
      if (early) {
        sock.pause();
        sock.on('error', () => {});
        sock.end(answer(Buffer.alloc(0)), () => sock.destroy());
        return;
      }
      const chunks: Buffer[] = [];
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('error', () => {});
      sock.on('end', () => {
        const request = Buffer.concat(chunks);
        this.requests.push(request);
        sock.end(answer(request));
      });
    });
  }

  listen(): Promise<this> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => resolve(this));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tscni-shim-'));
let sockets = 0;
const daemons: FakeDaemon[] = [];
const daemon = (answer: (request: Buffer) => Buffer, early = false): Promise<FakeDaemon> => {
  const d = new FakeDaemon(join(dir, `d${sockets++}.sock`), answer, early);
  daemons.push(d);
  return d.listen();
};
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shim = (plugin = 'loopback') => join(RESIDENT, plugin);
const baseEnv = (socket: string, more: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  TSCNI_PLUGIND_SOCKET: socket,
  ...more,
});
/** The CNI error the shim prints when the daemon died during the call. */
const expectTryAgain = (r: Run) => {
  expect(r.code).toBe(1);
  expect(r.stderr.toString()).toBe('');
  const err = JSON.parse(r.stdout.toString());
  expect(err).toEqual({ code: 11, msg: expect.stringMatching(/^tscni-plugind: /) });
};

describe('the resident install (tools/shim-build.mjs)', () => {
  it('links every plugin tscni-cni serves to the shim, which carries the same tscni-multicall trailer', () => {
    const trailer = (f: string) =>
      /\n\/\/ tscni-multicall:[a-z0-9,-]+\n$/.exec(readFileSync(f).subarray(-1024).toString('latin1'))?.[0];
    const names = trailer(join(CNI_BIN, 'tscni-cni'))!.trim().split(':')[1].split(',');
    expect(trailer(join(RESIDENT, 'tscni-shim'))).toBe(trailer(join(CNI_BIN, 'tscni-cni')));
    for (const n of names) expect(readlinkSync(join(RESIDENT, n))).toBe('tscni-shim');
    expect(realpathSync(join(RESIDENT, 'tscni-cni'))).toBe(realpathSync(join(CNI_BIN, 'tscni-cni')));
  });

  it('is our build to a runtime that asks (ourBuildName): each link is the plugin it is named after', () => {
    for (const n of ['loopback', 'bridge', 'host-local']) expect(ourBuildName(join(RESIDENT, n))).toBe(n);
    expect(ourBuildName(join(RESIDENT, 'tscni-shim'))).toBeUndefined();
  });
});

describe('the request', () => {
  const ns = statSync('/proc/thread-self/ns/net');
  const cases: [string, Buffer][] = [
    ['a config', Buffer.from(LOOPBACK_CONF)],
    ['no stdin', Buffer.alloc(0)],
    ['300 KiB of stdin with NUL bytes', Buffer.concat([Buffer.from('{"a":"\0"}\0\0'), randomBytes(300 * 1024)])],
  ];
  for (const [what, stdin] of cases) {
    it(`holds the fields, the whole environment and every byte of stdin (${what})`, async () => {
      const d = await daemon(() => answerR(0, 'ok\n'));
      const env = baseEnv(d.path, { CNI_COMMAND: 'ADD', CNI_IFNAME: 'lo', TSCNI_SHIM_TEST_EMPTY: '' });
      const r = await run(shim('loopback'), env, stdin);
      expect(r.stderr.toString()).toBe('');
      expect(r.stdout.toString()).toBe('ok\n');
      expect(r.code).toBe(0);
      expect(d.requests).toHaveLength(1);
      const req = parseRequest(d.requests[0]);
      expect(req.magic).toBe('tscni-plugind/1');
      expect(req.plugin).toBe('loopback');
      // tscni-cni in the directory of the shim's resolved /proc/self/exe: the link itself is not followed.
      expect(req.fallback).toBe(join(realpathSync(RESIDENT), 'tscni-cni'));
      expect(req.netns).toBe(`${ns.dev}:${ns.ino}`);
      const mnt = statSync('/proc/thread-self/ns/mnt');
      expect(req.mntns).toBe(`${mnt.dev}:${mnt.ino}`);
      expect([...req.env].sort()).toEqual(
        Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .sort(),
      );
      expect(req.stdin.equals(stdin)).toBe(true);
    });
  }

  it('names the link it was invoked as, whichever plugin that is', async () => {
    const d = await daemon(() => answerR(0, ''));
    for (const plugin of ['bridge', 'host-local']) await run(shim(plugin), baseEnv(d.path, { CNI_COMMAND: 'DEL' }));
    expect(d.requests.map((q) => parseRequest(q).plugin)).toEqual(['bridge', 'host-local']);
  });
});

describe('an R answer', () => {
  for (const code of [0, 1, 255]) {
    it(`prints its stdout and stderr exactly and exits ${code}`, async () => {
      const stdout = Buffer.concat([Buffer.from('{"code":7}\n\0'), randomBytes(1000)]);
      const stderr = Buffer.concat([Buffer.from('warn\n'), randomBytes(100)]);
      const d = await daemon(() => answerR(code, stdout, stderr));
      const r = await run(shim(), baseEnv(d.path, { CNI_COMMAND: 'ADD' }), LOOPBACK_CONF);
      expect(r.code).toBe(code);
      expect(r.stdout.equals(stdout)).toBe(true);
      expect(r.stderr.equals(stderr)).toBe(true);
    });
  }

  it('relays a large stdout and stderr', async () => {
    const stdout = randomBytes(3 * 1024 * 1024);
    const stderr = randomBytes(200 * 1024);
    const d = await daemon(() => answerR(0, stdout, stderr));
    const r = await run(shim(), baseEnv(d.path, { CNI_COMMAND: 'ADD' }), LOOPBACK_CONF);
    expect(r.code).toBe(0);
    expect(r.stdout.equals(stdout)).toBe(true);
    expect(r.stderr.equals(stderr)).toBe(true);
  });
});

describe('a daemon that dies during the call', () => {
  const broken: [string, Buffer][] = [
    ['no answer at all', Buffer.alloc(0)],
    ['half an R header', Buffer.from('R\0\x10')],
    ['a stdout cut short', answerR(0, 'x'.repeat(100)).subarray(0, 50)],
    ['garbage', Buffer.from('{"cniVersion":"1.0.0"}')],
  ];
  for (const [what, answer] of broken) {
    it(`is a CNI error 11, not a fallback (${what})`, async () => {
      const d = await daemon(() => answer);
      // Were the fallback to run, loopback would answer VERSION with its versions.
      const r = await run(shim(), baseEnv(d.path, { CNI_COMMAND: 'VERSION' }), '{}');
      expectTryAgain(r);
      expect(d.requests).toHaveLength(1);
    });
  }
});

describe('the fallback to tscni-cni', () => {
  const versionEnv = { CNI_COMMAND: 'VERSION' };
  let direct: Run;
  beforeAll(async () => {
    direct = await run(join(CNI_BIN, 'loopback'), baseEnv('/nonexistent', versionEnv), '{}');
    expect(direct.code).toBe(0);
    expect(JSON.parse(direct.stdout.toString()).supportedVersions).toContain('1.0.0');
  });
  const expectDirect = (r: Run) => {
    expect(r.stderr.toString()).toBe(direct.stderr.toString());
    expect(r.stdout.toString()).toBe(direct.stdout.toString());
    expect(r.code).toBe(0);
  };

  it('runs on an F answer, with the same argv[0], environment and stdin', async () => {
    const d = await daemon(() => Buffer.from('Fnot a plugin this daemon runs'));
    expectDirect(await run(shim(), baseEnv(d.path, versionEnv), '{}'));
    expect(d.requests).toHaveLength(1);
  });

  it('runs on an F answer sent before the daemon read the request (the broken pipe is no signal)', async () => {
    const d = await daemon(() => Buffer.from('Fbusy'), true);
    expectDirect(await run(shim(), baseEnv(d.path, versionEnv), randomBytes(2 * 1024 * 1024)));
    expect(d.connections).toBe(1);
  });

  it('runs when nothing listens on the socket', async () => {
    expectDirect(await run(shim(), baseEnv(join(dir, 'nobody.sock'), versionEnv), '{}'));
  });

  it('runs without connecting when TSCNI_PLUGIND=off', async () => {
    const d = await daemon(() => answerR(0, 'the daemon answered\n'));
    expectDirect(await run(shim(), baseEnv(d.path, { ...versionEnv, TSCNI_PLUGIND: 'off' }), '{}'));
    expect(d.connections).toBe(0);
  });

  it('is a CNI error (999) when there is no tscni-cni beside the shim', async () => {
    const lone = join(dir, 'lone');
    mkdirSync(lone);
    copyFileSync(join(RESIDENT, 'tscni-shim'), join(lone, 'loopback'));
    chmodSync(join(lone, 'loopback'), 0o755);
    const r = await run(
      join(lone, 'loopback'),
      baseEnv(join(dir, 'nobody.sock'), { ...versionEnv, TSCNI_PLUGIND: 'off' }),
      '{}',
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout.toString())).toEqual({
      code: 999,
      msg: `tscni-shim: cannot run ${join(realpathSync(lone), 'tscni-cni')}: No such file or directory`,
    });
  });
});

const missing = missingForKernelTests(['ip']);
describe.skipIf(!!missing)(`the fallback runs the real plugin${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  beforeAll(() => {
    node = new TestNode('shim');
  });
  afterAll(() => node?.destroy());
  const env = (socket: string, command: string, pod: string) =>
    baseEnv(socket, {
      CNI_COMMAND: command,
      CNI_CONTAINERID: 'ctr-shim-1',
      CNI_NETNS: pod,
      CNI_IFNAME: 'lo',
      CNI_PATH: RESIDENT,
    });
  const loUp = (pod: string) =>
    linksIn(pod)
      .find((l) => l.ifname === 'lo')!
      .flags.includes('UP');

  for (const how of ['an F answer', 'no daemon', 'TSCNI_PLUGIND=off'] as const) {
    it(`loopback ADD and DEL through the shim print what tscni-cni prints (${how})`, async () => {
      const d = await daemon(() => Buffer.from('Fno'));
      const socket = how === 'no daemon' ? join(dir, 'nobody.sock') : d.path;
      const extra: Record<string, string> = how === 'TSCNI_PLUGIND=off' ? { TSCNI_PLUGIND: 'off' } : {};
      const pod = node.addPod();
      const add = await run(shim(), { ...env(socket, 'ADD', pod), ...extra }, LOOPBACK_CONF);
      expect(add.code, add.stdout.toString() + add.stderr.toString()).toBe(0);
      expect(loUp(pod)).toBe(true);
      // ADD again, directly: lo is up already, so the same answer.
      const directAdd = await run(join(CNI_BIN, 'loopback'), env(socket, 'ADD', pod), LOOPBACK_CONF);
      expect(add.stdout.toString()).toBe(directAdd.stdout.toString());
      const del = await run(shim(), { ...env(socket, 'DEL', pod), ...extra }, LOOPBACK_CONF);
      expect(del.code, del.stdout.toString()).toBe(0);
      expect(loUp(pod)).toBe(false);
      const directDel = await run(join(CNI_BIN, 'loopback'), env(socket, 'DEL', pod), LOOPBACK_CONF);
      expect(del.stdout.toString()).toBe(directDel.stdout.toString());
      expect(d.requests).toHaveLength(how === 'an F answer' ? 2 : 0);
      if (how === 'an F answer') expect(parseRequest(d.requests[0]).stdin.toString()).toBe(LOOPBACK_CONF);
    });
  }

  it('does not fall back when the daemon dies during an ADD: the pod is untouched', async () => {
    const d = await daemon(() => Buffer.from('R'));
    const pod = node.addPod();
    expectTryAgain(await run(shim(), env(d.path, 'ADD', pod), LOOPBACK_CONF));
    expect(loUp(pod)).toBe(false);
  });
});
