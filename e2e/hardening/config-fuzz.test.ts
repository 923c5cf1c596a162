/**
 * Property-based config fuzzing: for every plugin binary, random NetConfs go through ADD then DEL. Half are
 * mixed (its real field names with well-typed values mixed with values of random type; almost all fail
 * validation), half valid (validShapes: they pass validation, then succeed or fail in the kernel stage, e.g.
 * a link kind this kernel lacks). Each call must exit 0 or print a CNI error with a spec code — never a stack
 * trace, never an internal error (a TypeError/ReferenceError/RangeError/SyntaxError, which the skeleton tags
 * `internal error (…)` under code 999) — and afterwards the test node holds nothing new: no link (bridges
 * excepted, the reference never deletes them), nothing in the pod, no rule. Per plugin, at least a third of
 * the ADDs must get past validation (exit 0, or an error code other than 1, 2, 4, 6, 7); the split is printed.
 * FUZZ_RUNS=n overrides the runs per plugin (25 keeps the file under a minute); failures print the seed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DIST_BIN, TestNode, linksIn, missingForKernelTests, sh } from '@tscni/testing/node';
import { FLANNEL_SUBNET_ENV, IPAM_PLUGINS, baseConfig, pluginFields, validShapes } from './config-fields';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const PLUGINS = [
  'loopback',
  'bridge',
  'ptp',
  'macvlan',
  'ipvlan',
  'vlan',
  'host-device',
  'dummy',
  'tap',
  'host-local',
  'static',
  'dhcp',
  'portmap',
  'bandwidth',
  'tuning',
  'firewall',
  'flannel',
  'sbr',
  'vrf',
];
const absent = PLUGINS.filter((p) => !existsSync(join(DIST_BIN, p)));
const missing =
  missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'nft', 'tc']) ??
  (absent.length ? `needs ${absent.join(', ')} built` : undefined);
/** Error codes the spec defines (1–11 reserved; 100+ plugin-specific). */
const SPEC_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 11]);
const STACK = /\n\s+at .+[(:]\d+/;
/** Codes of a config refused before any work: incompatible version, unsupported field, env, decoding, config. */
const VALIDATION_CODES = new Set([1, 2, 4, 6, 7]);
/** What V8 says when code trips over a value it did not expect (in case a plugin reports one untagged). */
const ENGINE_ERROR =
  /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not defined|Cannot convert|Maximum call stack|Invalid array length|Unexpected token|internal error \(/;

/** Values of any JSON type, with the strings that tend to break things. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.constantFrom(
    '',
    '../../etc/passwd',
    'a;touch /tmp/tscni-pwned',
    'x\ny',
    '$(id)',
    '-j ACCEPT',
    '\u0000',
    'A'.repeat(5000),
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean()), {
    maxKeys: 3,
  }),
);

/** A valid config: the base, every required feature, each optional one absent or one of its variants. */
function validConfigs(plugin: string, tmp: string, pod: string): fc.Arbitrary<Record<string, unknown>> {
  const shape = validShapes(tmp, pod)[plugin];
  const required = shape.required.map((variants) => fc.constantFrom(...variants));
  const optional = shape.optional.map((variants) =>
    fc.option(fc.constantFrom(...variants), { nil: undefined, freq: 2 }),
  );
  return fc.tuple(fc.tuple(...required), fc.tuple(...optional)).map(([req, opt]) => {
    const patch = Object.assign({}, ...req, ...opt.filter((o) => o !== undefined));
    const base = baseConfig(plugin, tmp);
    return IPAM_PLUGINS.includes(plugin)
      ? { ...base, ipam: { ...(base.ipam as object), ...patch } }
      : { ...base, ...patch };
  });
}

/** A valid and a mixed config: the run takes two valid ones for one mixed one, in turn (a fixed share). */
function configs(
  plugin: string,
  tmp: string,
  pod: string,
): fc.Arbitrary<[Record<string, unknown>, Record<string, unknown>]> {
  return fc.tuple(validConfigs(plugin, tmp, pod), mixedConfigs(plugin, tmp, pod));
}

/** A mixed config: the base, then each known field absent, well-typed or junk; now and then an unknown key. */
function mixedConfigs(plugin: string, tmp: string, pod: string): fc.Arbitrary<Record<string, unknown>> {
  const fields = pluginFields(tmp, pod)[plugin];
  const entry = (values: unknown[]) =>
    fc.option(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...values) }, { weight: 2, arbitrary: junk }), {
      nil: undefined,
      freq: 3,
    });
  const patch = fc.record(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, entry(v)])));
  return fc
    .tuple(patch, fc.option(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), junk), { nil: undefined, freq: 4 }))
    .map(([p, extra]) => {
      const defined = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));
      if (extra) defined[extra[0]] = extra[1];
      if (plugin === 'flannel') keepFlannelLeasesInScratch(defined, tmp);
      const base = baseConfig(plugin, tmp);
      return IPAM_PLUGINS.includes(plugin)
        ? { ...base, ipam: { ...(base.ipam as object), ...defined } }
        : { ...base, ...defined };
    });
}

/**
 * flannel hands host-local an ipam of its own making, in /var/lib/cni/networks unless the config's ipam names a
 * dataDir (as the reference does): an `ipam` left out, null (absent, to Go) or an object without a dataDir would put
 * the run's leases on the node. Those get the scratch dataDir; other junk (a string, a number) is still refused.
 */
function keepFlannelLeasesInScratch(config: Record<string, unknown>, tmp: string): void {
  const ipam = config.ipam ?? {};
  if (typeof ipam === 'object' && !Array.isArray(ipam)) config.ipam = { ...ipam, dataDir: `${tmp}/ipam` };
}

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Exec a plugin in the node netns with its cwd in scratch (a relative path in a config lands there). */
function runPlugin(node: TestNode, cwd: string, bin: string, env: Record<string, string>, stdin: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${node.path}`, '--', bin], {
      cwd,
      env: { PATH: process.env.PATH, TSCNI_IPMASQ_STATE_DIR: node.ipMasqStateDir, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

type Stage = 'ok' | 'kernel' | 'validation';

/** Exit 0, or exit 1 with a CNI error carrying a spec code; never a stack trace or an internal error. */
function expectCniOutcome(r: Run, what: string): Stage {
  const out = `${what}\nstdout: ${r.stdout.slice(0, 400)}\nstderr: ${r.stderr.slice(0, 400)}`;
  expect(r.signal, out).toBeNull();
  expect([0, 1], out).toContain(r.code);
  expect(r.stdout + r.stderr, `no stack trace: ${out}`).not.toMatch(STACK);
  if (r.code === 0) return 'ok';
  const err = JSON.parse(r.stdout) as { code: number; msg: string; details?: string };
  expect(SPEC_CODES.has(err.code) || err.code >= 100, `spec code: ${out}`).toBe(true);
  expect(typeof err.msg, out).toBe('string');
  expect(`${err.msg} ${err.details ?? ''}`, `an internal error (a bug): ${out}`).not.toMatch(ENGINE_ERROR);
  return VALIDATION_CODES.has(err.code) ? 'validation' : 'kernel';
}

/** One throwaway node per plugin (so plugins fuzz in parallel without seeing each other's links). */
class FuzzNode {
  readonly node = new TestNode('fz');
  readonly pod = this.node.addPod();
  readonly cwd = join(this.node.tmp, 'cwd');
  readonly baseline: { links: string[]; podLinks: string[]; qdiscs: string };
  constructor() {
    mkdirSync(this.cwd);
    this.node.exec('ip', ['link', 'add', 'fzup0', 'type', 'veth', 'peer', 'name', 'fzup0p']);
    this.node.exec('ip', ['link', 'add', 'fzdev0', 'type', 'veth', 'peer', 'name', 'fzdev0p']);
    writeFileSync(
      join(this.node.tmp, FLANNEL_SUBNET_ENV),
      'FLANNEL_NETWORK=10.253.0.0/16\nFLANNEL_SUBNET=10.253.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n',
    );
    this.baseline = { links: this.links(), podLinks: this.podLinks(), qdiscs: this.qdiscs() };
  }
  links(): string[] {
    return linksIn(this.node.path)
      .filter((l) => (l as { linkinfo?: { info_kind?: string } }).linkinfo?.info_kind !== 'bridge')
      .map((l) => l.ifname)
      .sort();
  }
  /** Before a meta plugin's ADD, the attachment its prevResult describes (what the main plugin would have made):
   * host veth vethfz0, eth0 10.252.0.5/24 in the pod. */
  attach(): void {
    this.node.exec('ip', ['link', 'add', 'vethfz0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.pod]);
    this.node.exec('ip', ['link', 'set', 'vethfz0', 'up']);
    sh('ip', ['addr', 'add', '10.252.0.5/24', 'dev', 'eth0'], { netns: this.pod });
    sh('ip', ['link', 'set', 'eth0', 'up'], { netns: this.pod });
  }
  /** After its DEL: the main plugin's DEL deletes the veth (and with it what hangs on it, e.g. a root qdisc). */
  detach(): void {
    this.node.exec('ip', ['link', 'del', 'vethfz0'], { allowFail: true });
  }
  podLinks(): string[] {
    return linksIn(this.pod)
      .map((l) => l.ifname)
      .sort();
  }
  qdiscs(): string {
    return sh('tc', ['qdisc', 'show'], { netns: this.node.path })
      .split('\n')
      .filter((l) => l && !/noqueue|noop/.test(l))
      .sort()
      .join('\n');
  }
  /** Rules naming a pod (its container ID, an address of the fuzz ranges) and per-pod chains. The shared
   * tables, chains and jumps a plugin sets up once may stay, as the reference's do. */
  podRules(): string[] {
    const text =
      sh('iptables-save', [], { netns: this.node.path }) + sh('nft', ['list', 'ruleset'], { netns: this.node.path });
    return text.split('\n').filter((l) => /fuzz-|10\.252\.|CNI-(DN-)?[0-9a-f]{20,}/.test(l));
  }
  /** Nothing of the run's pod remains. */
  expectClean(what: string): void {
    expect(this.links(), `node links after ${what}`).toEqual(this.baseline.links);
    expect(this.podLinks(), `pod links after ${what}`).toEqual(this.baseline.podLinks);
    expect(this.qdiscs(), `qdiscs after ${what}`).toBe(this.baseline.qdiscs);
    expect(this.podRules(), `rules after ${what}`).toEqual([]);
  }
}

describe.skipIf(!!missing)(
  `property-based config fuzzing (${RUNS} configs per plugin)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    const nodes: FuzzNode[] = [];
    const split: Record<string, Record<Stage, number>> = {};
    const systemStates = ['/var/lib/cni/networks/fuzznet', '/run/cni/tuning', '/run/cni/ipmasq'];
    const hadSystemState = systemStates.filter((d) => existsSync(d));
    afterAll(() => {
      nodes.forEach((n) => n.node.destroy());
      const rows = Object.entries(split).map(
        ([p, s]) => `${p}: ${s.ok} ok, ${s.kernel} failed past validation, ${s.validation} refused by validation`,
      );
      console.log(`config-fuzz split of ADDs (${RUNS} per plugin):\n${rows.join('\n')}`);
    });

    for (const plugin of PLUGINS) {
      it.concurrent(
        `${plugin}: every random config gets a result or a CNI error, and DEL leaves the node as it was`,
        async () => {
          const fz = new FuzzNode();
          const meta = ['portmap', 'bandwidth', 'tuning', 'firewall'].includes(plugin);
          nodes.push(fz);
          let n = 0;
          const stages: Record<Stage, number> = (split[plugin] = { ok: 0, kernel: 0, validation: 0 });
          await fc.assert(
            fc.asyncProperty(configs(plugin, fz.node.tmp, fz.pod), async ([valid, mixed]) => {
              const conf = n % 3 === 2 ? mixed : valid;
              const env = {
                CNI_CONTAINERID: `fuzz-${plugin}-${n++}`,
                CNI_NETNS: fz.pod,
                CNI_IFNAME: 'eth0',
                CNI_PATH: DIST_BIN,
              };
              const stdin = JSON.stringify(conf);
              if (meta) fz.attach();
              const add = await runPlugin(
                fz.node,
                fz.cwd,
                join(DIST_BIN, plugin),
                { ...env, CNI_COMMAND: 'ADD' },
                stdin,
              );
              stages[expectCniOutcome(add, `ADD ${stdin.slice(0, 600)}`)]++;
              if (add.code === 0)
                expect(JSON.parse(add.stdout), 'ADD prints a result').toMatchObject({ cniVersion: expect.any(String) });
              const del = await runPlugin(
                fz.node,
                fz.cwd,
                join(DIST_BIN, plugin),
                { ...env, CNI_COMMAND: 'DEL' },
                stdin,
              );
              expectCniOutcome(del, `DEL ${stdin.slice(0, 600)}`);
              // A config ADD accepted must also be deletable.
              if (add.code === 0) expect(del.code, `DEL after a successful ADD: ${del.stdout}`).toBe(0);
              if (meta) fz.detach();
              fz.expectClean(stdin.slice(0, 400));
            }),
            { numRuns: RUNS, endOnFailure: true },
          );
          expect(existsSync('/tmp/tscni-pwned'), 'a string reached a shell').toBe(false);
          const total = stages.ok + stages.kernel + stages.validation;
          expect(
            stages.ok + stages.kernel,
            `${plugin}: ADDs past validation (${JSON.stringify(stages)}) — at least a third`,
          ).toBeGreaterThanOrEqual(total / 3);
        },
        RUNS * 10_000 + 60_000,
      );
    }
    // Runs after the concurrent fuzzers: no plugin may have fallen back to the system's default state dirs.
    it('wrote nothing under the system default state dirs', () => {
      for (const d of systemStates) if (!hadSystemState.includes(d)) expect(existsSync(d), d).toBe(false);
    });
  },
);
