#!/usr/bin/env node
// The kernel lane: run the vlan/ipvlan/dummy/vrf kernel suites for real on Debian's own kernel under
// qemu-system (software emulation; TSCNI_KERNEL_LANE_ACCEL=kvm where KVM really works). Not part of the default tests.
//   node e2e/kernel-lane/run.mjs [project ...]                            (default: vlan ipvlan dummy vrf)
//   nx run kernel-lane:run                                                (same; ~17 min under TCG on 2 cores)
//   nx run kernel-lane:run -- --ci --report /abs/kernel-lane.json         what .ci/test runs: only the suites
//        this host's kernel skips (vlan, ipvlan, dummy, vrf, the bridge's VLAN tests), the vitest JSON report
//        copied out of the guest for the closing totals (measured against the Bun executable: 17 min beside other
//        suites, 43 passed / 13 skipped — the "kernel without X" counterparts and Debian's missing reference
//        dummy — on the shared 2-core machine)
// The suites exec the default runtime's plugins (tools/plugin-runtime.mjs): the Bun executable, built here before
// boot; TSCNI_PLUGIN_RUNTIME=node runs them against the Node bundles.
// Needs: qemu-system-x86 installed; apt-get download access for linux-image-amd64 and busybox-static.
// Cache (kernel, modules, busybox, initramfs): /var/tmp/tscni-kernel-lane. The guest sees the host's /
// read-only over virtio-9p, with its own tmpfs /tmp and /run, so tests cannot touch the host.
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const cache = process.env.TSCNI_KERNEL_LANE_CACHE ?? '/var/tmp/tscni-kernel-lane';
const argv = process.argv.slice(2);
const ci = argv.includes('--ci');
const reportAt = argv.indexOf('--report');
const report = reportAt >= 0 ? resolve(argv[reportAt + 1]) : undefined;
const positional = argv.filter((a, i) => !a.startsWith('--') && i !== reportAt + 1);
/** --ci: the kernel suites of the link kinds this host lacks (their files only, not the command-plan tests that
 * run everywhere) and, from the bridge, its VLAN tests (bridge VLAN filtering). */
const CI_LANE = {
  projects: ['vlan', 'ipvlan', 'dummy', 'vrf', 'bridge'],
  files: ['vlan.test.ts', 'ipvlan.test.ts', 'dummy.test.ts', 'vrf.test.ts', 'bridge-tscni.test.ts'],
  filter: 'vlan|dummy|vrf',
};
const projects = ci ? CI_LANE.projects : positional.length ? positional : ['vlan', 'ipvlan', 'dummy', 'vrf'];
const testFiles = ci ? CI_LANE.files : [];
const filter = process.env.TSCNI_KERNEL_LANE_FILTER ?? (ci ? CI_LANE.filter : '');
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
  const byName = new Map(
    [...deps.keys()].map((p) => [
      p
        .split('/')
        .pop()
        .replace(/\.ko(\.\w+)?$/, ''),
      p,
    ]),
  );
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
function buildInitramfs(k, runtime) {
  // Per run: two lanes on one machine (sharing the download cache) must not rewrite each other's image.
  const root = mkdtempSync(join(cache, 'initramfs-'));
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
  writeFileSync(join(root, 'filter'), filter);
  writeFileSync(join(root, 'files'), testFiles.join(' '));
  writeFileSync(join(root, 'repo'), repo);
  writeFileSync(join(root, 'runtime'), runtime);
  const image = `${root}.cpio`;
  const files = sh('find', ['.', '-mindepth', '1'], { cwd: root }).trim().split('\n').join('\n') + '\n';
  const r = spawnSync(k.busybox, ['cpio', '-o', '-H', 'newc'], { cwd: root, input: files, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`cpio: ${r.stderr}`);
  writeFileSync(image, r.stdout);
  rmSync(root, { recursive: true, force: true });
  return image;
}

/** The guest prints its vitest JSON report base64-encoded between markers on the serial console. */
function writeReport(out, file) {
  const m = /KERNEL-LANE-REPORT-BEGIN\r?\n([\s\S]*?)KERNEL-LANE-REPORT-END/.exec(out);
  if (!m) return console.error('kernel-lane: the guest printed no test report');
  const b64 = m[1]
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => /^[A-Za-z0-9+/=]+$/.test(l))
    .join('');
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const report = JSON.parse(text); // a garbled report must not be written as if it were one
  // Tests the -t filter did not select were not run here (they run on the host): not skips of the lane.
  if (filter) {
    const selected = new RegExp(filter);
    for (const f of report.testResults ?? [])
      f.assertionResults = (f.assertionResults ?? []).filter(
        (t) => t.status !== 'skipped' || selected.test(t.fullName ?? ''),
      );
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(report));
  console.log(`kernel-lane: test report written to ${file}`);
}

async function main() {
  if (report) rmSync(report, { force: true });
  // The guest's / is read-only and TSCNI_PREBUILT keeps it from building: everything it execs is built here. The
  // suites exec the default runtime's build (tools/plugin-runtime.mjs; the guest gets the same runtime): the Bun
  // executable, or the Node bundles. The bundles are built either way (some tests name dist/cni-bin themselves).
  sh('node', [join(repo, 'tools', 'bundle.mjs'), ...projects], { cwd: repo });
  const runtime = sh('node', [join(repo, 'tools', 'plugin-runtime.mjs')], { cwd: repo }).trim();
  if (runtime === 'bun') sh('node', [join(repo, 'tools', 'bun-build.mjs'), '--if-stale'], { cwd: repo });
  const k = fetchDebs();
  const initrd = buildInitramfs(k, runtime);
  // Software emulation by default: nested KVM on this kind of host boots nothing (MSR errors, hangs).
  const accel = process.env.TSCNI_KERNEL_LANE_ACCEL ?? 'tcg';
  console.log(`kernel-lane: ${k.version}, accel ${accel}, projects ${projects.join(' ')}, plugins: ${runtime}`);
  const args = [
    '-accel',
    accel,
    ...(accel === 'kvm' ? ['-cpu', 'host'] : ['-cpu', 'max']),
    '-m',
    '3072',
    '-smp',
    '2',
    '-nographic',
    '-no-reboot',
    '-kernel',
    k.vmlinuz,
    '-initrd',
    initrd,
    '-append',
    'console=ttyS0 panic=-1 rdinit=/init quiet loglevel=1',
    '-fsdev',
    'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device',
    'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-nic',
    'none',
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
  rmSync(initrd, { force: true });
  if (report) writeReport(out, report);
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
