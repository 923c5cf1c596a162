#!/usr/bin/env node
// The kernel lane: run the vlan/ipvlan/dummy/vrf kernel suites for real on Debian's own kernel under
// qemu-system (software emulation; TSCNI_KERNEL_LANE_ACCEL=kvm where KVM really works). Not part of the default tests.
//   node packages/plugins/main/vlan/kernel-lane/run.mjs [project ...]     (default: vlan ipvlan dummy vrf)
//   nx run vlan:kernel-lane                                               (same; ~17 min under TCG on 2 cores)
// Needs: qemu-system-x86 installed; apt-get download access for linux-image-amd64 and busybox-static.
// Cache (kernel, modules, busybox, initramfs): /var/tmp/tscni-kernel-lane. The guest sees the host's /
// read-only over virtio-9p, with its own tmpfs /tmp and /run, so tests cannot touch the host.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../../../..');
const cache = process.env.TSCNI_KERNEL_LANE_CACHE ?? '/var/tmp/tscni-kernel-lane';
const projects = process.argv.slice(2).length ? process.argv.slice(2) : ['vlan', 'ipvlan', 'dummy', 'vrf'];
const timeoutMin = Number(process.env.TSCNI_KERNEL_LANE_TIMEOUT_MIN ?? 40);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout || '').trim()}`);
  return r.stdout;
}

/** Debian's kernel image package and busybox-static, downloaded and unpacked once. */
function fetchDebs() {
  mkdirSync(cache, { recursive: true });
  const kernelPkg = sh('apt-cache', ['depends', 'linux-image-amd64']).match(/Depends: (linux-image-\S+)/)?.[1];
  if (!kernelPkg) throw new Error('cannot resolve linux-image-amd64');
  const kernelDir = join(cache, 'kernel');
  const version = kernelPkg.replace(/^linux-image-/, '');
  if (!existsSync(join(kernelDir, 'boot', `vmlinuz-${version}`))) {
    rmSync(kernelDir, { recursive: true, force: true });
    sh('apt-get', ['download', kernelPkg], { cwd: cache });
    const deb = readdirSync(cache).find((f) => f.startsWith(kernelPkg) && f.endsWith('.deb'));
    sh('dpkg-deb', ['-x', join(cache, deb), kernelDir]);
  }
  const busybox = join(cache, 'bb', 'bin', 'busybox');
  if (!existsSync(busybox)) {
    sh('apt-get', ['download', 'busybox-static'], { cwd: cache });
    const deb = readdirSync(cache).find((f) => f.startsWith('busybox-static') && f.endsWith('.deb'));
    sh('dpkg-deb', ['-x', join(cache, deb), join(cache, 'bb')]);
  }
  const modules = join(kernelDir, 'lib', 'modules', version);
  if (!existsSync(join(modules, 'modules.dep'))) sh(busybox, ['depmod', '-b', kernelDir, version]);
  return { version, kernelDir, modules, busybox, vmlinuz: join(kernelDir, 'boot', `vmlinuz-${version}`) };
}

/** Modules `names` need, dependencies first, from modules.dep. */
function withDeps(modulesDir, names) {
  const deps = new Map();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod) deps.set(mod, (rest ?? '').trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((p) => [p.split('/').pop().replace(/\.ko(\.\w+)?$/, ''), p]));
  const order = [];
  const visit = (path) => {
    if (order.includes(path)) return;
    for (const d of deps.get(path) ?? []) visit(d);
    order.push(path);
  };
  for (const n of names) {
    const p = byName.get(n);
    if (!p) throw new Error(`module ${n} not in ${modulesDir}`);
    visit(p);
  }
  return order;
}

/** initramfs: busybox, the virtio/9p modules, our /init, and where the rest lives on the host. */
function buildInitramfs(k) {
  const root = join(cache, 'initramfs');
  rmSync(root, { recursive: true, force: true });
  for (const d of ['bin', 'mods', 'proc', 'sys', 'dev', 'lib']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(k.busybox, join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  const order = withDeps(k.modules, ['virtio_pci', '9pnet_virtio', '9p']);
  for (const m of order) copyFileSync(join(k.modules, m), join(root, 'mods', m.split('/').pop()));
  writeFileSync(join(root, 'mods', 'order'), order.map((m) => m.split('/').pop()).join('\n') + '\n');
  copyFileSync(join(here, 'guest-init.sh'), join(root, 'init'));
  chmodSync(join(root, 'init'), 0o755);
  writeFileSync(join(root, 'kdir'), k.kernelDir);
  writeFileSync(join(root, 'guest-tests'), join(here, 'guest-tests.sh'));
  writeFileSync(join(root, 'projects'), projects.join(' '));
  // TSCNI_KERNEL_LANE_FILTER: only the tests whose name matches (vitest -t), e.g. bridge's vlan test.
  writeFileSync(join(root, 'filter'), process.env.TSCNI_KERNEL_LANE_FILTER ?? '');
  writeFileSync(join(root, 'repo'), repo);
  const image = join(cache, 'initramfs.cpio');
  const files = sh('find', ['.', '-mindepth', '1'], { cwd: root }).trim().split('\n').join('\n') + '\n';
  const r = spawnSync(k.busybox, ['cpio', '-o', '-H', 'newc'], { cwd: root, input: files, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`cpio: ${r.stderr}`);
  writeFileSync(image, r.stdout);
  return image;
}

async function main() {
  sh('node', [join(repo, 'tools', 'bundle.mjs'), ...projects], { cwd: repo }); // the guest's / is read-only
  const k = fetchDebs();
  const initrd = buildInitramfs(k);
  // Software emulation by default: nested KVM on this kind of host boots nothing (MSR errors, hangs).
  const accel = process.env.TSCNI_KERNEL_LANE_ACCEL ?? 'tcg';
  console.log(`kernel-lane: ${k.version}, accel ${accel}, projects ${projects.join(' ')}`);
  const args = [
    '-accel', accel, ...(accel === 'kvm' ? ['-cpu', 'host'] : ['-cpu', 'max']), '-m', '3072', '-smp', '2', '-nographic', '-no-reboot',
    '-kernel', k.vmlinuz, '-initrd', initrd,
    '-append', 'console=ttyS0 panic=-1 rdinit=/init',
    '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-nic', 'none',
  ];
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    process.stdout.write(d);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMin * 60_000);
  await new Promise((r) => child.on('close', r));
  clearTimeout(timer);
  const rc = /KERNEL-LANE-EXIT=(\d+)/.exec(out)?.[1];
  if (rc === undefined) {
    console.error('kernel-lane: the guest did not report an exit status');
    process.exit(2);
  }
  process.exit(Number(rc));
}

main().catch((e) => {
  console.error(`kernel-lane: ${e.message}`);
  process.exit(2);
});
