import { readStdin, runtime, writeOutput } from './platform';
import { statIdentity } from './platform-fs';
import { readStdinText, writeFdText } from './files';
import { sys } from './sys';
import type { ZodType, ZodTypeDef } from 'zod';
import { parseCniArgs } from './args';
import { plainNetConf } from './plain-netconf';
import { plainDecode, type PlainObject } from './plain-decode';
import { goField, goParse, goView, parseJsonText } from './go-json';
import { CniError, ErrorCode } from './errors';
import { convertResult, toCurrentResult } from './result';
import { NetConfSchema, VALID_ATTACHMENTS_KEY, type Attachment, type NetConf, type Result } from './types';
import { validateContainerID, validateInterfaceName, validateNetworkName } from './validate';
import { ALL_VERSIONS, CURRENT_VERSION, versionAtLeast } from './version';
import { zodIssueText } from './zod-error';

export type Verb = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';

/** What the skeleton hands every verb: the protocol parameters and the decoded config. */
export class CmdArgs {
  constructor(
    readonly command: Verb,
    readonly containerID: string,
    readonly netns: string,
    readonly ifName: string,
    readonly args: string,
    readonly path: string[],
    readonly stdinData: string,
    readonly netConf: NetConf,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * The config parsed with the plugin's schema; a mismatch is error 7 naming the field. With `plain` (the schema's
   * plain description, plain-decode.ts) an ordinary config is decoded without building the schema.
   */
  parse<T>(schema: ZodType<T, ZodTypeDef, unknown>, plain?: PlainObject): T {
    const fast = plain && plainDecode<T>(plain, this.netConf);
    if (fast !== undefined) return fast;
    const parsed = goParse(schema, this.netConf);
    if (parsed.success) return parsed.data;
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `invalid network config: ${zodIssueText(parsed.error.issues[0])}`,
    );
  }

  /** CNI_ARGS keys this plugin knows (plus the Kubernetes ones, which are always tolerated). */
  cniArgs(known: readonly string[]): Record<string, string> {
    return parseCniArgs(this.args, [
      ...known,
      'K8S_POD_NAMESPACE',
      'K8S_POD_NAME',
      'K8S_POD_INFRA_CONTAINER_ID',
      'K8S_POD_UID',
    ]);
  }

  /** `prevResult` in the current shape, or undefined when there is none. */
  prevResult(): Result | undefined {
    const prev = this.netConf.prevResult;
    if (!prev || Object.keys(prev).length === 0) return undefined;
    return toCurrentResult(prev, this.netConf.cniVersion);
  }

  requirePrevResult(pluginName: string): Result {
    const prev = this.prevResult();
    if (!prev)
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `${pluginName}: must be called as chained plugin (missing prevResult)`,
      );
    return prev;
  }

  /** `cni.dev/valid-attachments` of a GC request. */
  validAttachments(): Attachment[] {
    const raw =
      (this.netConf as Record<string, unknown>)[VALID_ATTACHMENTS_KEY] ??
      (this.netConf as Record<string, unknown>)['cni.dev/attachments'];
    if (raw === undefined) return [];
    if (!Array.isArray(raw))
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `invalid network config: ${VALID_ATTACHMENTS_KEY}: expected an array`,
      );
    return raw.map((a: { containerID?: unknown; ifname?: unknown }) => ({
      containerID: String(a?.containerID ?? ''),
      ifname: String(a?.ifname ?? ''),
    }));
  }

  get runtimeConfig(): Record<string, unknown> {
    return goView((this.netConf.runtimeConfig ?? {}) as Record<string, unknown>);
  }

  /** `args.cni.<key>` of the config. */
  argsCni<T = unknown>(key: string): T | undefined {
    return goField(goField(this.netConf.args, 'cni'), key) as T | undefined;
  }
}

type MaybePromise<T> = T | Promise<T>;
export interface PluginFuncs {
  add(args: CmdArgs): MaybePromise<Result>;
  del(args: CmdArgs): MaybePromise<void>;
  check?(args: CmdArgs): MaybePromise<void>;
  gc?(args: CmdArgs): MaybePromise<void>;
  status?(args: CmdArgs): MaybePromise<void>;
}

export interface PluginInfo {
  supportedVersions?: readonly string[];
  about?: string;
}

export interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const REQUIRED: Record<Exclude<Verb, 'VERSION'>, string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_PATH'],
  STATUS: ['CNI_PATH'],
};

/** The whole protocol for one invocation, without touching the process: unit-testable. */
export async function dispatch(
  funcs: PluginFuncs,
  info: PluginInfo,
  env: NodeJS.ProcessEnv,
  readStdin: () => string,
): Promise<Outcome> {
  const supported = info.supportedVersions ?? ALL_VERSIONS;
  const command = env.CNI_COMMAND;
  if (!command) {
    return {
      exitCode: 0,
      stdout: '',
      stderr: `${info.about ?? 'tscni plugin'}\nCNI protocol versions supported: ${supported.join(', ')}\n`,
    };
  }
  try {
    if (command === 'VERSION') {
      return ok(JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: supported }));
    }
    if (!(command in REQUIRED))
      throw new CniError(ErrorCode.InvalidEnvironmentVariables, `unknown CNI_COMMAND: ${command}`);
    const verb = command as Exclude<Verb, 'VERSION'>;
    const missing = REQUIRED[verb].filter((k) => !env[k]);
    if (missing.length)
      throw new CniError(
        ErrorCode.InvalidEnvironmentVariables,
        `required env variables [${missing.join(',')}] missing`,
      );
    const containerID = env.CNI_CONTAINERID ?? '';
    const ifName = env.CNI_IFNAME ?? '';
    const netns = env.CNI_NETNS ?? '';
    if (verb === 'ADD' || verb === 'DEL' || verb === 'CHECK') {
      validateContainerID(containerID);
      validateInterfaceName(ifName);
      if (netns) await checkNotOwnNetns(netns, env);
    }
    let stdin: string;
    try {
      stdin = readStdin();
    } catch (e) {
      throw new CniError(ErrorCode.IOFailure, `error reading from stdin: ${(e as Error).message}`);
    }
    const netConf = decodeNetConf(stdin);
    // The name ends up in state paths and rule comments: refuse anything outside the spec's pattern.
    if (netConf.name) validateNetworkName(netConf.name);
    const version = netConf.cniVersion;
    if (!supported.includes(version)) {
      throw new CniError(
        ErrorCode.IncompatibleCNIVersion,
        'incompatible CNI versions',
        `config is "${version}", plugin supports [${supported.map((v) => `"${v}"`).join(' ')}]`,
      );
    }
    const minimum = { CHECK: '0.4.0', GC: '1.1.0', STATUS: '1.1.0' }[verb as string];
    if (minimum && !versionAtLeast(version, minimum)) {
      throw new CniError(ErrorCode.IncompatibleCNIVersion, `config version does not allow ${verb}`);
    }
    const args = new CmdArgs(
      verb,
      containerID,
      netns,
      ifName,
      env.CNI_ARGS ?? '',
      (env.CNI_PATH ?? '').split(':').filter(Boolean),
      stdin,
      netConf,
      env,
    );
    switch (verb) {
      case 'ADD': {
        const result = await funcs.add(args);
        return ok(JSON.stringify(convertResult(result, version)));
      }
      case 'DEL':
        await funcs.del(args);
        return ok('');
      case 'CHECK':
        if (!funcs.check) throw new CniError(ErrorCode.Internal, 'CHECK is not implemented by this plugin');
        await funcs.check(args);
        return ok('');
      case 'GC':
        await funcs.gc?.(args);
        return ok('');
      case 'STATUS':
        await funcs.status?.(args);
        return ok('');
    }
  } catch (err) {
    const e = CniError.from(err);
    return { exitCode: 1, stdout: JSON.stringify(e.toJSON()), stderr: '' };
  }
}

const ok = (stdout: string): Outcome => ({ exitCode: 0, stdout, stderr: '' });

function decodeNetConf(stdin: string): NetConf {
  let raw: unknown;
  try {
    raw = parseJsonText(stdin);
  } catch (e) {
    throw new CniError(ErrorCode.DecodingFailure, `decoding version from network config: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CniError(ErrorCode.DecodingFailure, 'decoding version from network config: not a JSON object');
  }
  const netConf = plainNetConf(raw as Record<string, unknown>) ?? parseNetConf(raw);
  if (netConf.cniVersion === '') netConf.cniVersion = '0.1.0';
  return netConf;
}

function parseNetConf(raw: unknown): NetConf {
  const parsed = goParse(NetConfSchema, raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const code = issue.path[0] === 'cniVersion' ? ErrorCode.DecodingFailure : ErrorCode.InvalidNetworkConfig;
    throw new CniError(code, `invalid network config: ${zodIssueText(issue)}`);
  }
  return parsed.data;
}

async function checkNotOwnNetns(netns: string, env: NodeJS.ProcessEnv): Promise<void> {
  const override = (env.CNI_NETNS_OVERRIDE ?? '').toLowerCase();
  if (override === '1' || override === 'true') return;
  // A netns that cannot be stat'ed (missing) is the verb's business: DEL must tolerate it. `thread-self`, not `self`:
  // `/proc/self` is the main thread, which under Bun enters a pod for an instant (in-process netlink and sysctls)
  // while this stat may be running on the runtime's pool; the thread that stats never leaves home.
  const [target, own] = await Promise.all([statIdentity(netns), statIdentity('/proc/thread-self/ns/net')]);
  if (target && own && target.ino === own.ino && target.dev === own.dev) {
    throw new CniError(ErrorCode.InvalidNetNS, "netns must not be the plugin's own network namespace", netns);
  }
}

/** What the executable prints for an outcome: its stdout ends with a newline. */
export const printedOutcome = (o: Outcome): Outcome => ({ ...o, stdout: o.stdout ? o.stdout + '\n' : '' });

/** What the executable prints when `dispatch` itself threw (a bug): an internal error. */
export const thrownOutcome = (e: unknown): Outcome => ({
  exitCode: 1,
  stdout: JSON.stringify({ code: ErrorCode.Internal, msg: String((e as Error)?.message ?? e) }) + '\n',
  stderr: '',
});

/** Run a plugin as the process: env and stdin in, result or error JSON out. */
export function pluginMain(funcs: PluginFuncs, info: PluginInfo = {}): void {
  // Under Bun stdin and stdout go through read(2)/write(2) on the one FFI symbol when there is one, else Bun's own
  // API (both cheaper than its Node layer; the system calls ≈ 0.35 ms a call cheaper than Bun's streams).
  const direct = runtime === 'bun' && sys() !== undefined;
  const output = (stdout: string, stderr = ''): Promise<void> => {
    if (!direct) return writeOutput(stdout, stderr);
    try {
      if (stderr) writeFdText(2, stderr);
      if (stdout) writeFdText(1, stdout);
    } catch {
      // The runtime closed the pipe (EPIPE): nobody is left to read it; the exit code still says how it went.
    }
    return Promise.resolve();
  };
  const go = (read: () => string) =>
    dispatch(funcs, info, process.env, read)
      .then(printedOutcome, thrownOutcome)
      .then((o) => output(o.stdout, o.stderr).then(() => void (process.exitCode = o.exitCode)));
  if (direct) void go(readStdinText);
  else if (runtime === 'bun')
    void readStdin().then(
      (text) => go(() => text),
      (e: unknown) =>
        go(() => {
          throw e;
        }),
    );
  else void go(() => process.getBuiltinModule('node:fs').readFileSync(0, 'utf8'));
}
