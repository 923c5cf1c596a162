#!/usr/bin/env node
// Stage one publishable npm package per plugin in dist/packages/<type>: the plugin's executable (the Node bundle,
// or the Bun executable when tools/plugin-runtime.mjs says bun), README and LICENSE, and a package.json with `bin`
// named after the plugin type and no dependencies (the executable has them).
//   node tools/stage-packages.mjs [type ...]
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, executables } from './bundle.mjs';
import { BUN_BIN_DIR, MULTICALL_NAME, buildBunIfStale } from './bun-build.mjs';
import { pluginRuntime } from './plugin-runtime.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function stage(names = [], runtime = pluginRuntime()) {
  const plugins = executables().filter(
    (t) => t.out.includes('/cni-bin/') && (names.length === 0 || names.includes(t.name)),
  );
  let multicall;
  if (runtime === 'bun') {
    await buildBunIfStale();
    multicall = join(BUN_BIN_DIR, MULTICALL_NAME);
  } else await bundle({ names: plugins.map((p) => p.name), ifStale: true });
  const staged = [];
  for (const p of plugins) {
    const src = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8'));
    const out = join(root, 'dist/packages', p.name);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    // The Bun build: the whole multi-call executable under the plugin's name (it dispatches on that name). npm
    // cannot link a bin into another package without an install script, so each package carries its own copy;
    // a node with several plugins is better served by one `tscni install --runtime bun` (one file, hard links).
    if (multicall) linkOrCopy(multicall, join(out, p.name));
    else copyFileSync(p.out, join(out, p.name));
    chmodSync(join(out, p.name), 0o755);
    const readme = join(p.dir, 'README.md');
    writeFileSync(
      join(out, 'README.md'),
      existsSync(readme) ? readFileSync(readme) : defaultReadme(p.name, src, runtime),
    );
    copyFileSync(join(root, 'LICENSE'), join(out, 'LICENSE'));
    const pkg = {
      name: src.name,
      version: src.version,
      description: src.description,
      license: src.license ?? 'Apache-2.0',
      keywords: ['cni', 'kubernetes', 'container-networking', src.tscni?.kind].filter(Boolean),
      bin: { [p.name]: `./${p.name}` },
      files: [p.name, 'README.md', 'LICENSE'],
      ...(multicall ? { cpu: ['x64'] } : { engines: { node: '>=20' } }),
      os: ['linux'],
    };
    writeFileSync(join(out, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
    staged.push({ name: p.name, dir: out });
  }
  return staged;
}

function linkOrCopy(from, to) {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

function defaultReadme(type, pkg, runtime) {
  return `# ${pkg.name}\n\n${pkg.description ?? ''}\n\nThe \`${type}\` CNI plugin of [tscni](https://www.npmjs.com/org/tscni): a drop-in for the reference plugin of the same name.\n\n\`\`\`sh\nnpm install -g ${pkg.name}     # puts \`${type}\` on PATH; copy or link it into /opt/cni/bin\n\`\`\`\n\n${runtime === 'bun' ? 'A self-contained executable for Linux x64 (compiled with Bun): nothing else is needed on the node.' : 'Requires Node.js >= 20 on the node.'} Configuration fields are those of the reference plugin.\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const s of await stage(process.argv.slice(2))) console.log(`staged ${s.dir.replace(root + '/', '')}`);
}
