/**
 * Images built locally from Debian's busybox-static, no registry involved: a rootfs directory, its
 * tar (for `podman import`), and an OCI image-layout archive (for `ctr images import`) whose command
 * sleeps forever — the pod sandbox ("pause") image.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../test-node';

export const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'sleep', 'nc', 'httpd', 'ip', 'ping', 'wget', 'cat', 'ls'];
export const MARKER = 'tscni-interop-ok';

/** A rootfs with busybox and a few applets, /www/index.html holding MARKER; returns its tar. */
export function busyboxRootfsTar(dir: string): string {
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'www', 'tmp', 'etc', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
  writeFileSync(join(root, 'www/index.html'), `${MARKER}\n`);
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  const tar = join(dir, 'rootfs.tar');
  sh('tar', ['--numeric-owner', '--owner=0', '--group=0', '-cf', tar, '-C', root, '.']);
  return tar;
}

const GOARCH = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** An OCI image-layout tar of the busybox rootfs named `ref`, command `sleep` forever. */
export function pauseImageArchive(dir: string, ref: string): string {
  const layerTar = busyboxRootfsTar(dir);
  const layout = join(dir, 'oci');
  const blobs = join(layout, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (content: Buffer | string): { digest: string; size: number } => {
    const hex = sha(content);
    writeFileSync(join(blobs, hex), content);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(content) };
  };
  const layer = put(readFileSync(layerTar));
  const config = put(
    JSON.stringify({
      architecture: GOARCH,
      os: 'linux',
      config: { Cmd: ['/bin/sleep', '2147483647'], WorkingDir: '/', Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const manifest = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
    }),
  );
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: { architecture: GOARCH, os: 'linux' },
          annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': ref.split(':').pop() },
        },
      ],
    }),
  );
  const archive = join(dir, 'pause-oci.tar');
  sh('tar', [
    '--numeric-owner',
    '--owner=0',
    '--group=0',
    '-cf',
    archive,
    '-C',
    layout,
    'oci-layout',
    'index.json',
    'blobs',
  ]);
  return archive;
}
