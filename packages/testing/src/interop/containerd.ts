/**
 * containerd 1.6 with its CRI plugin on a RuntimeNode: a private config (root, state, sockets under the
 * node's tmp dir; CNI bin_dir = the plugin dir under test; conf_dir holding our conflist; sandbox_image
 * = the locally built pause image), started by the suite and stopped at the end, and the real crictl.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pauseImageArchive } from './busybox-image';
import type { Daemon, RuntimeNode } from './node';
import { CRICTL } from '../real-crictl';

export { CRICTL };

export const PAUSE_IMAGE = 'docker.io/tscni/pause:interop';

export interface Containerd {
  socket: string;
  dirs: { root: string; state: string; confDir: string };
  daemon: Daemon;
  crictl(args: string[], opts?: { allowFail?: boolean }): { code: number; stdout: string; stderr: string };
  stop(): Promise<void>;
}

const toml = (v: string): string => JSON.stringify(v);

function configToml(base: string, binDir: string, confDir: string): string {
  return `version = 2
root = ${toml(join(base, 'root'))}
state = ${toml(join(base, 'state'))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${toml(join(base, 'containerd.sock'))}

[ttrpc]
  address = ${toml(join(base, 'containerd.sock.ttrpc'))}

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${toml(join(base, 'opt'))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${toml(PAUSE_IMAGE)}
  disable_apparmor = true
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${toml(binDir)}
    conf_dir = ${toml(confDir)}
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    # native (plain copies), not overlayfs: works whatever filesystem the CI's /tmp is on (overlay on overlay fails).
    snapshotter = "native"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
`;
}

/**
 * Start containerd in the node with `conflist` as the only CNI network and the pause image imported. `env` is
 * containerd's, which it passes on to its plugins (resident mode's TSCNI_PLUGIND_SOCKET).
 */
export async function startContainerd(
  node: RuntimeNode,
  binDir: string,
  conflist: object,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Containerd> {
  const base = join(node.tmp, 'containerd');
  const confDir = join(base, 'net.d');
  mkdirSync(confDir, { recursive: true });
  writeFileSync(join(confDir, '10-interop.conflist'), JSON.stringify(conflist, null, 2));
  const config = join(base, 'config.toml');
  writeFileSync(config, configToml(base, binDir, confDir));
  const socket = join(base, 'containerd.sock');
  const daemon = node.spawn('containerd', ['--config', config], env);
  const exited = new Promise<void>((r) => daemon.child.once('exit', () => r()));

  const crictl = (args: string[], opts: { allowFail?: boolean } = {}) => {
    if (!existsSync(CRICTL)) throw new Error(`crictl missing at ${CRICTL}`);
    const r = spawnSync(CRICTL, ['-r', `unix://${socket}`, '-t', '60s', ...args], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    const out = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
    if (out.code !== 0 && !opts.allowFail)
      throw new Error(`crictl ${args.join(' ')} failed (${out.code}): ${out.stderr || out.stdout}`);
    return out;
  };
  const stop = async () => {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
      // nsenter execs containerd, so the child is containerd itself; shims and pods go with the node.
      daemon.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
    }
  };
  const cd: Containerd = {
    socket,
    dirs: { root: join(base, 'root'), state: join(base, 'state'), confDir },
    daemon,
    crictl,
    stop,
  };

  try {
    for (let i = 0; !existsSync(socket) || crictl(['version'], { allowFail: true }).code !== 0; i++) {
      if (daemon.child.exitCode !== null) throw new Error(`containerd exited: ${daemon.log}`);
      if (i > 240) throw new Error(`containerd did not answer on ${socket}: ${daemon.log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const archive = pauseImageArchive(join(base, 'image'), PAUSE_IMAGE);
    node.exec('ctr', ['-a', socket, '-n', 'k8s.io', 'images', 'import', '--snapshotter', 'native', archive]);
  } catch (err) {
    await stop();
    throw err;
  }
  return cd;
}
