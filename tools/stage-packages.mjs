#!/usr/bin/env node
// Stage the publishable npm packages in dist/packages (docs/performance.md, "npm packages"):
//   @tscni/cni-plugins (dist/packages/cni-plugins): every plugin, one `bin` per plugin name. When the switch
//     (tools/plugin-runtime.mjs) says bun, that is the one Bun executable, shipped once, with every name pointing at
//     it (npm links each name to the same file; the executable dispatches on the name it was invoked as); when it
//     says node, the Node bundle of each plugin under its own name.
//   @tscni/<type> (dist/packages/<type>): one plugin's Node bundle, whatever the switch says. Whoever runs
//     `npm i -g @tscni/bridge` has Node.js (npm runs on it) and wants one plugin, not a 53 MB download per name.
// Each package holds its executables, README and LICENSE, and a package.json with no dependencies.
//   node tools/stage-packages.mjs [type | cni-plugins ...]
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, executables } from './bundle.mjs';
import { BUN_BIN_DIR, MULTICALL_NAME, buildBunIfStale } from './bun-build.mjs';
import { pluginRuntime } from './plugin-runtime.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SUITE_PACKAGE = 'cni-plugins';
const SUITE_SOURCE = join(root, 'apps/cni-bun');

/** @returns {Promise<{ name: string, dir: string, runtime: 'node' | 'bun' }[]>} */
export async function stage(names = [], runtime = pluginRuntime()) {
  const all = executables().filter((t) => t.out.includes('/cni-bin/'));
  const wanted = (n) => names.length === 0 || names.includes(n);
  const plugins = all.filter((t) => wanted(t.name));
  const suite = wanted(SUITE_PACKAGE);
  const nodeBundles = suite && runtime === 'node' ? all : plugins;
  if (nodeBundles.length) await bundle({ names: nodeBundles.map((p) => p.name), ifStale: true });
  if (suite && runtime === 'bun') await buildBunIfStale();

  const staged = [];
  for (const p of plugins) {
    const src = readJson(join(p.dir, 'package.json'));
    const out = fresh(p.name);
    copyExecutable(p.out, join(out, p.name));
    const readme = join(p.dir, 'README.md');
    writeReadme(out, existsSync(readme) ? readFileSync(readme) : pluginReadme(p.name, src));
    writePackageJson(out, {
      name: src.name,
      version: src.version,
      description: src.description,
      license: src.license ?? 'Apache-2.0',
      keywords: ['cni', 'kubernetes', 'container-networking', src.tscni?.kind].filter(Boolean),
      bin: { [p.name]: `./${p.name}` },
      files: [p.name, 'README.md', 'LICENSE'],
      engines: { node: '>=20' },
      os: ['linux'],
    });
    staged.push({ name: p.name, dir: out, runtime: 'node' });
  }
  if (suite) staged.push(stageSuite(all, runtime));
  return staged;
}

/** @tscni/cni-plugins: every plugin of the runtime's build, one bin per plugin name. */
function stageSuite(plugins, runtime) {
  const src = readJson(join(SUITE_SOURCE, 'package.json'));
  const out = fresh(SUITE_PACKAGE);
  let bin;
  if (runtime === 'bun') {
    // One file; npm links every name to it (a bin entry is a path, several names may share one).
    linkOrCopy(join(BUN_BIN_DIR, MULTICALL_NAME), join(out, MULTICALL_NAME));
    chmodSync(join(out, MULTICALL_NAME), 0o755);
    bin = Object.fromEntries(plugins.map((p) => [p.name, `./${MULTICALL_NAME}`]));
  } else {
    for (const p of plugins) copyExecutable(p.out, join(out, p.name));
    bin = Object.fromEntries(plugins.map((p) => [p.name, `./${p.name}`]));
  }
  writeReadme(out, suiteReadme(src, Object.keys(bin), runtime));
  writePackageJson(out, {
    name: src.name,
    version: src.version,
    description: src.description,
    license: src.license ?? 'Apache-2.0',
    keywords: ['cni', 'kubernetes', 'container-networking', 'cni-plugins'],
    bin,
    files: [...new Set(Object.values(bin).map((b) => b.slice(2))), 'README.md', 'LICENSE'],
    ...(runtime === 'bun' ? { cpu: ['x64'] } : { engines: { node: '>=20' } }),
    os: ['linux'],
  });
  return { name: SUITE_PACKAGE, dir: out, runtime };
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

function fresh(name) {
  const out = join(root, 'dist/packages', name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  return out;
}

function copyExecutable(from, to) {
  copyFileSync(from, to);
  chmodSync(to, 0o755);
}

function writeReadme(out, readme) {
  writeFileSync(join(out, 'README.md'), readme);
  copyFileSync(join(root, 'LICENSE'), join(out, 'LICENSE'));
}

function writePackageJson(out, pkg) {
  writeFileSync(join(out, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
}

function linkOrCopy(from, to) {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

function pluginReadme(type, pkg) {
  return `# ${pkg.name}\n\n${pkg.description ?? ''}\n\nThe \`${type}\` CNI plugin of [tscni](https://www.npmjs.com/org/tscni): a drop-in for the reference plugin of the same name.\n\n\`\`\`sh\nnpm install -g ${pkg.name}     # puts \`${type}\` on PATH; copy or link it into /opt/cni/bin\n\`\`\`\n\nRequires Node.js >= 20 on the node. Every plugin as one self-contained executable that needs nothing on the node: \`@tscni/cni-plugins\`. Configuration fields are those of the reference plugin.\n`;
}

function suiteReadme(pkg, names, runtime) {
  const what =
    runtime === 'bun'
      ? `One self-contained executable for Linux x64 (compiled with Bun), \`tscni-cni\`, that acts as the plugin it is invoked as: npm links every plugin name to it. Nothing else is needed on the node.`
      : `The Node.js bundle of each plugin under its own name; requires Node.js >= 20 on the node.`;
  return `# ${pkg.name}\n\n${pkg.description ?? ''}\n\nEvery CNI plugin of [tscni](https://www.npmjs.com/org/tscni), each a drop-in for the reference plugin of the same name: ${names.map((n) => `\`${n}\``).join(', ')}.\n\n\`\`\`sh\nnpm install -g ${pkg.name}     # puts every plugin name on PATH\nCNI_COMMAND=VERSION bridge\n\`\`\`\n\n${what} For /opt/cni/bin, link the names you use there (a link keeps the name the executable dispatches on): \`for p in bridge host-local portmap; do ln -sf "$(command -v $p)" /opt/cni/bin/$p; done\`. The single-plugin packages (\`@tscni/bridge\`, …) install the same names: install one or the other.\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const s of await stage(process.argv.slice(2))) console.log(`staged ${s.dir.replace(root + '/', '')}`);
}
