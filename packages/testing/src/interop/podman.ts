/**
 * podman 4.3 with its CNI backend on a RuntimeNode: a private containers.conf (network_backend "cni",
 * cni_plugin_dirs = the plugin dir under test, network_config_dir in the node's tmp dir, cgroupfs, file
 * events and locks) and a private storage.conf (graphroot/runroot in the tmp dir), selected through
 * CONTAINERS_CONF / CONTAINERS_STORAGE_CONF; every podman command runs in the node's namespaces.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfsTar } from './busybox-image';
import type { RuntimeNode } from './node';

export const BUSYBOX_IMAGE = 'localhost/tscni-busybox:interop';

export interface Podman {
  configDir: string;
  storage: string;
  run(args: string[], opts?: { allowFail?: boolean }): { code: number; stdout: string; stderr: string };
}

const toml = (v: string): string => JSON.stringify(v);

/**
 * `env`: more of the plugins' environment (resident mode's TSCNI_PLUGIND_SOCKET). podman passes its own on to the
 * plugins it runs, but conmon gets only a few of podman's variables, and its exit command (`podman container
 * cleanup`, the DEL of a container that exits by itself) conmon's: so these go into containers.conf's
 * conmon_env_vars too.
 */
export function setUpPodman(node: RuntimeNode, binDir: string, env: NodeJS.ProcessEnv = {}): Podman {
  const conmonEnv = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [toml(`${k}=${v}`)]));
  const base = join(node.tmp, 'podman');
  const configDir = join(base, 'net.d');
  const storage = join(base, 'storage');
  for (const d of [configDir, storage, join(base, 'runroot'), join(base, 'tmp')]) mkdirSync(d, { recursive: true });
  writeFileSync(
    join(base, 'containers.conf'),
    `[containers]
log_driver = "k8s-file"
# Lower than podman's defaults (1048576 / its own hard limit), whose setrlimit fails with EPERM on
# machines that forbid raising limits (a sandboxed CI VM); lowering is always allowed.
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[network]
network_backend = "cni"
cni_plugin_dirs = [${toml(binDir)}]
network_config_dir = ${toml(configDir)}

[engine]
cgroup_manager = "cgroupfs"
conmon_env_vars = [${conmonEnv.join(', ')}]
events_logger = "file"
events_logfile_path = ${toml(join(base, 'events.log'))}
runtime = "runc"
tmp_dir = ${toml(join(base, 'tmp'))}
lock_type = "file"
volume_path = ${toml(join(base, 'volumes'))}
# No static_dir: conmon's exit command, podman container cleanup, is given --root and then looks for its container in
# the database under <graphroot>/libpod (podman 4.3), so one elsewhere would leave every exited container unclean.
`,
  );
  writeFileSync(
    join(base, 'storage.conf'),
    `[storage]
# vfs (plain copies of a 2 MB rootfs), not overlay: works whatever filesystem the CI's /tmp is on.
driver = "vfs"
graphroot = ${toml(storage)}
runroot = ${toml(join(base, 'runroot'))}
`,
  );
  const podmanEnv: NodeJS.ProcessEnv = {
    ...env,
    PATH: process.env.PATH,
    HOME: base,
    CONTAINERS_CONF: join(base, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(base, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(base, 'registries.conf'),
  };
  writeFileSync(podmanEnv.CONTAINERS_REGISTRIES_CONF!, 'unqualified-search-registries = []\n');
  const run = (args: string[], opts: { allowFail?: boolean } = {}) =>
    node.exec('podman', ['--cgroup-manager=cgroupfs', ...args], { env: podmanEnv, allowFail: opts.allowFail });
  run(['import', '--change', 'CMD ["/bin/sh"]', busyboxRootfsTar(join(base, 'image')), BUSYBOX_IMAGE]);
  return { configDir, storage, run };
}
