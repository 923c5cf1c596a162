// Infers the targets that Nx's own plugins don't know about:
//   build — every project whose package.json declares "tscni": {"bin": ...} is bundled by tools/bundle.mjs
//           (CNI plugins are tagged cni-plugin: apps/cni-bun compiles all of them into one Bun executable);
//   lint  — every TypeScript project is checked by ESLint (eslint.config.mjs), nested projects left to their own target;
//   typecheck — `tsc --noEmit` on the project's tsconfig (the workspace resolves packages through npm
//               workspaces, not TypeScript project references, which @nx/js's inference needs).
const { readFileSync, existsSync } = require('node:fs');
const { dirname, join, posix } = require('node:path');
const { assetsOf } = require('./bundle-assets.cjs');

exports.name = 'tscni-targets';

/**
 * Every file tools/bundle.mjs writes for one executable: the bundle, the CommonJS marker beside it and its
 * run-time assets, its @tscni/* dependencies' included. nx.json must not set build outputs: a target default would replace these.
 */
function bundleOutputs(pkg, workspaceRoot) {
  const { tscni } = pkg;
  const dir = `{workspaceRoot}/dist/${tscni.out || 'cni-bin'}`;
  return [
    `${dir}/${tscni.bin}`,
    `${dir}/package.json`,
    ...assetsOf(pkg, workspaceRoot).map((asset) =>
      posix.normalize(`${dir}/${typeof asset === 'string' ? asset : asset.to}`),
    ),
  ];
}
exports.bundleOutputs = bundleOutputs;
exports.createNodesV2 = [
  '**/package.json',
  async (files, _options, context) => {
    const projectFiles = files.filter((f) => f !== 'package.json' && !f.includes('node_modules'));
    const roots = projectFiles.map((f) => dirname(f));
    return projectFiles.map((file) => {
      const root = dirname(file);
      const pkg = JSON.parse(readFileSync(join(context.workspaceRoot, file), 'utf8'));
      const targets = {};
      if (pkg.tscni && pkg.tscni.bin) {
        targets.build = {
          command: `node tools/bundle.mjs ${pkg.tscni.bin}`,
          options: { cwd: '{workspaceRoot}' },
          cache: true,
          inputs: ['production', '^production', { env: 'TSCNI_PLUGIN_RUNTIME' }],
          outputs: bundleOutputs(pkg, context.workspaceRoot),
        };
      }
      if (existsSync(join(context.workspaceRoot, root, 'tsconfig.json'))) {
        const nested = roots.filter((r) => r.startsWith(`${root}/`)).map((r) => ` --ignore-pattern '${r}/**'`);
        targets.lint = {
          command: `eslint --max-warnings 0 ${root}${nested.join('')}`,
          options: { cwd: '{workspaceRoot}' },
          cache: true,
          // ^default: the import-cycle and project-boundary rules read the projects this one imports.
          inputs: ['default', '^default', '{workspaceRoot}/eslint.config.mjs'],
        };
        targets.typecheck = {
          command: `tsc -p ${root}/tsconfig.json --noEmit`,
          options: { cwd: '{workspaceRoot}' },
          cache: true,
        };
      }
      // Every CNI plugin is tagged, so the Bun multi-call build (apps/cni-bun) depends on all of them.
      const tags = pkg.tscni && pkg.tscni.bin && (pkg.tscni.out || 'cni-bin') === 'cni-bin' ? ['cni-plugin'] : [];
      return [file, { projects: { [root]: { targets, tags } } }];
    });
  },
];
