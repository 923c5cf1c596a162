#!/usr/bin/env node
// Stage one publishable npm package per plugin in dist/packages/<type>: the bundled executable, README and
// LICENSE, and a package.json with `bin` named after the plugin type and no dependencies (the bundle has them).
//   node tools/stage-packages.mjs [type ...]
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, executables } from './bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function stage(names = []) {
  const plugins = executables().filter((t) => (t.out.includes('/cni-bin/')) && (names.length === 0 || names.includes(t.name)));
  await bundle({ names: plugins.map((p) => p.name), ifStale: true });
  const staged = [];
  for (const p of plugins) {
    const src = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8'));
    const out = join(root, 'dist/packages', p.name);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    copyFileSync(p.out, join(out, p.name));
    chmodSync(join(out, p.name), 0o755);
    const readme = join(p.dir, 'README.md');
    writeFileSync(join(out, 'README.md'), existsSync(readme) ? readFileSync(readme) : defaultReadme(p.name, src));
    copyFileSync(join(root, 'LICENSE'), join(out, 'LICENSE'));
    const pkg = {
      name: src.name,
      version: src.version,
      description: src.description,
      license: src.license ?? 'Apache-2.0',
      keywords: ['cni', 'kubernetes', 'container-networking', src.tscni?.kind].filter(Boolean),
      bin: { [p.name]: `./${p.name}` },
      files: [p.name, 'README.md', 'LICENSE'],
      engines: { node: '>=20' },
      os: ['linux'],
    };
    writeFileSync(join(out, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
    staged.push({ name: p.name, dir: out });
  }
  return staged;
}

function defaultReadme(type, pkg) {
  return `# ${pkg.name}\n\n${pkg.description ?? ''}\n\nThe \`${type}\` CNI plugin of [tscni](https://www.npmjs.com/org/tscni): a drop-in for the reference plugin of the same name.\n\n\`\`\`sh\nnpm install -g ${pkg.name}     # puts \`${type}\` on PATH; copy or link it into /opt/cni/bin\n\`\`\`\n\nRequires Node.js >= 20 on the node. Configuration fields are those of the reference plugin.\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const s of await stage(process.argv.slice(2))) console.log(`staged ${s.dir.replace(root + '/', '')}`);
}
