import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CriError, toServiceError } from './cri-error';
import { RUNTIME_VERSION } from './runtime-service';

/**
 * runtime.v1.ImageService, truthfully: the harness runs no containers and pulls nothing. The one image it holds
 * is its built-in pause — `sleep infinity` from the host (see pause.ts) — named `localhost/tscni-cri/pause:<version>`,
 * identified by the sha256 of that binary. Kubernetes' CRI clients open this service too and call ImageFsInfo first.
 */
export const PAUSE_IMAGE = `localhost/tscni-cri/pause:${RUNTIME_VERSION}`;
const PAUSE_REPO = PAUSE_IMAGE.slice(0, PAUSE_IMAGE.lastIndexOf(':'));

interface PauseImage {
  id: string;
  size: number;
  binary: string;
}

let cached: PauseImage | undefined;

/** The `sleep` the pause process execs (first on the harness's PATH, as spawn finds it). */
function pauseImage(): PauseImage {
  if (cached) return cached;
  const path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of path.split(delimiter)) {
    try {
      const binary = realpathSync(join(dir, 'sleep'));
      const bytes = readFileSync(binary);
      cached = { id: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length, binary };
      return cached;
    } catch {
      /* not in this directory */
    }
  }
  throw new CriError(
    grpc.status.FAILED_PRECONDITION,
    `no sleep binary on PATH (${path}): the pause image is not available`,
  );
}

/** Does `ref` name the pause image? Its tag, its repository (latest or not), its id or an id prefix of 12+ hex digits. */
function namesPause(ref: string, img: PauseImage): boolean {
  if (!ref) return false;
  const hex = img.id.slice('sha256:'.length);
  const bare = ref.startsWith('sha256:') ? ref.slice('sha256:'.length) : ref;
  return ref === PAUSE_IMAGE || ref === PAUSE_REPO || (/^[0-9a-f]{12,64}$/.test(bare) && hex.startsWith(bare));
}

function imageMessage(img: PauseImage) {
  return {
    id: img.id,
    repo_tags: [PAUSE_IMAGE],
    repo_digests: [],
    size: String(img.size),
    uid: { value: '0' },
    username: '',
    spec: { image: PAUSE_IMAGE, annotations: {} },
    pinned: true,
  };
}

/** The filesystem holding the state dir: its mount point (from mountinfo), used bytes and used inodes. */
export function stateFilesystem(stateDir: string) {
  const fs = statfsSync(stateDir, { bigint: true });
  return {
    timestamp: (BigInt(Date.now()) * 1_000_000n).toString(),
    fs_id: { mountpoint: mountPointOf(stateDir) },
    used_bytes: { value: ((fs.blocks - fs.bfree) * fs.bsize).toString() },
    inodes_used: { value: (fs.files - fs.ffree).toString() },
  };
}

/** The mount point a path lives on: the longest mountinfo entry that is a prefix of it on the same device. */
export function mountPointOf(path: string): string {
  const real = realpathSync(path);
  const dev = statSync(real).dev;
  let best = '/';
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (!mp || mp.length < best.length) continue;
    if (real !== mp && !real.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) continue;
    try {
      if (statSync(mp).dev === dev) best = mp;
    } catch {
      /* not reachable from here */
    }
  }
  return best;
}

const unary =
  (fn: (call: grpc.ServerUnaryCall<any, any>) => unknown): grpc.handleUnaryCall<any, any> =>
  (call, callback) => {
    try {
      callback(null, fn(call));
    } catch (e) {
      callback(toServiceError(e));
    }
  };

export function imageServiceHandlers(stateDir: string): grpc.UntypedServiceImplementation {
  return {
    ListImages: unary((call) => {
      const img = pauseImage();
      const wanted = call.request.filter?.image?.image ?? '';
      return { images: !wanted || namesPause(wanted, img) ? [imageMessage(img)] : [] };
    }),

    // An image the runtime does not hold is not an error: the response's image is unset.
    ImageStatus: unary((call) => {
      const img = pauseImage();
      if (!namesPause(call.request.image?.image ?? '', img)) return { image: null, info: {} };
      const info = call.request.verbose
        ? {
            info: JSON.stringify({
              kind: 'built-in pause',
              command: ['unshare', '--uts', '--ipc', '--', 'sleep', 'infinity'],
              binary: img.binary,
            }),
          }
        : {};
      return { image: imageMessage(img), info };
    }),

    PullImage: unary((call) => {
      const img = pauseImage();
      const ref = call.request.image?.image ?? '';
      if (namesPause(ref, img)) return { image_ref: img.id };
      throw new CriError(
        grpc.status.UNIMPLEMENTED,
        `tscni-cri pulls no images (it runs no containers); ${JSON.stringify(ref)} is not available, the only image is the built-in ${PAUSE_IMAGE}`,
      );
    }),

    // Removing an image that is not there succeeds (the call is idempotent); the built-in pause cannot go.
    RemoveImage: unary((call) => {
      const ref = call.request.image?.image ?? '';
      if (namesPause(ref, pauseImage()))
        throw new CriError(
          grpc.status.FAILED_PRECONDITION,
          `${PAUSE_IMAGE} is built into tscni-cri (every pod sandbox uses it) and cannot be removed`,
        );
      return {};
    }),

    ImageFsInfo: unary(() => ({ image_filesystems: [stateFilesystem(stateDir)], container_filesystems: [] })),
  };
}
