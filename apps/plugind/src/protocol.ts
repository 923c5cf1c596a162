/**
 * The wire format between the plugin shim and tscni-plugind, version 1 (docs/resident.md): one connection per call.
 * Request: NUL-terminated fields (magic, plugin name, fallback executable, the shim's network and mount namespaces as
 * `dev:ino`), the shim's
 * environment as `KEY=VALUE` fields ended by an empty one, then stdin to the end. Answer: `F` + a reason (the shim
 * runs the fallback executable itself), or `R`, the exit code, stdout's length (u32 LE), stdout, then stderr.
 */
export const MAGIC = 'tscni-plugind/1';

export interface PlugindRequest {
  plugin: string;
  /** The executable the shim runs when the daemon declines: ours only if it is the file the daemon runs. */
  fallback: string;
  /** `<st_dev>:<st_ino>` of the shim's /proc/thread-self/ns/net. */
  netns: string;
  /** `<st_dev>:<st_ino>` of the shim's /proc/thread-self/ns/mnt: the namespace its paths (CNI_NETNS …) live in. */
  mntns: string;
  env: Record<string, string>;
  /** stdin as the executable reads it: UTF-8, a BOM kept (Go refuses a config behind one, and so do we). */
  stdin: string;
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const encoder = new TextEncoder();

/** The request, or a reason it is not one (a different version, a truncated frame). */
export function parseRequest(bytes: Uint8Array): PlugindRequest | string {
  let at = 0;
  const field = (): string | undefined => {
    const end = bytes.indexOf(0, at);
    if (end < 0) return undefined;
    const text = decoder.decode(bytes.subarray(at, end));
    at = end + 1;
    return text;
  };
  const magic = field();
  if (magic !== MAGIC) return `not a ${MAGIC} request`;
  const [plugin, fallback, netns, mntns] = [field(), field(), field(), field()];
  if (plugin === undefined || fallback === undefined || netns === undefined || mntns === undefined)
    return 'truncated request';
  const env: Record<string, string> = {};
  for (;;) {
    const entry = field();
    if (entry === undefined) return 'truncated environment';
    if (entry === '') break;
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { plugin, fallback, netns, mntns, env, stdin: decoder.decode(bytes.subarray(at)) };
}

/** "Run it yourself": the shim execs the fallback executable with the same argv, env and stdin. */
export const declineAnswer = (reason: string): Uint8Array => encoder.encode(`F${reason}`);

/** The call's outcome as the executable would have printed it and exited. */
export function runAnswer(exitCode: number, stdout: string, stderr: string): Uint8Array {
  const out = encoder.encode(stdout);
  const err = encoder.encode(stderr);
  const frame = new Uint8Array(6 + out.length + err.length);
  frame[0] = 0x52; // 'R'
  frame[1] = exitCode & 0xff;
  new DataView(frame.buffer).setUint32(2, out.length, true);
  frame.set(out, 6);
  frame.set(err, 6 + out.length);
  return frame;
}
