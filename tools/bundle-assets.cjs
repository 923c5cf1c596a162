// The run-time files an executable's bundle needs beside it: its package's "tscni.assets" and those of the
// @tscni/* packages it depends on (e.g. @tscni/etcd's etcd3 protos). Shared by tools/bundle.mjs, which copies
// them, and tools/nx-plugin.cjs, which declares them as the build's outputs so a cache hit restores them.
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

function assetsOf(pkg, workspaceRoot, seen = new Set()) {
  const assets = [...((pkg.tscni && pkg.tscni.assets) || [])];
  for (const dep of Object.keys(pkg.dependencies || {})) {
    const depFile = join(workspaceRoot, 'node_modules', dep, 'package.json');
    if (!dep.startsWith('@tscni/') || seen.has(dep) || !existsSync(depFile)) continue;
    seen.add(dep);
    assets.push(...assetsOf(JSON.parse(readFileSync(depFile, 'utf8')), workspaceRoot, seen));
  }
  return assets;
}
exports.assetsOf = assetsOf;
