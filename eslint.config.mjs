// ESLint: the house rules (docs/CONTRIBUTING.md), import cycles and the Nx project boundaries. Syntax-only on
// purpose (no type-aware rules): CI has 2 cores. Each project's `lint` target runs `eslint <root>` (tools/nx-plugin.cjs).
import nx from '@nx/eslint-plugin';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import house from './tools/eslint/house-rules.mjs';

const SOURCES = ['**/*.{ts,mts,cts,js,mjs,cjs}'];
const TESTS = ['**/test/**', '**/*.test.ts', '**/vitest.config.ts', '**/vitest.shared.ts'];
// Plugins run once per pod per chain step, and cni/net are bundled into every one of them.
const HOT_PATH = ['packages/{cni,net,embedded-ipam}/src/**', 'packages/plugins/**/src/**'];

/** Which project tags each tag may import. `testing` is added for test files only. */
const ALLOWED = {
  'type:lib': ['type:lib'],
  'type:plugin': ['type:lib', 'type:plugin'],
  'type:app': ['type:lib', 'type:plugin'], // cri-harness runs our plugins in-process
  'type:testing': ['type:lib', 'type:plugin', 'type:app', 'type:testing'],
  'type:e2e': ['*'],
};
const boundaries = (withTesting) => [
  'error',
  {
    allow: [
      // The projects' vitest.config.ts share the root's vitest.shared.ts; e2e/publish stages packages as a release does.
      '^(\\.\\./)+vitest\\.shared$',
      '^(\\.\\./)+tools/stage-packages\\.mjs$',
      // Test helpers that other projects' tests reach by path, until they move to packages/testing (issue #20).
      '^(\\.\\./)+(apps/)?cri-harness/test/(harness-process|crictl)$',
      '^(\\.\\./)+(apps/)?agent/test/local-etcd$',
      '^(\\.\\./)+packages/libcni/test/fake-plugin$',
    ],
    depConstraints: Object.entries(ALLOWED).map(([sourceTag, allowed]) => ({
      sourceTag,
      onlyDependOnLibsWithTags: withTesting && !allowed.includes('*') ? [...allowed, 'type:testing'] : allowed,
    })),
  },
];

export default [
  { ignores: ['**/dist/**', '**/reports/**', '**/node_modules/**', '**/.nx/**', '**/coverage/**', '**/*.d.ts'] },
  {
    files: SOURCES,
    languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@nx': nx, 'import-x': importX, tscni: house },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json'] })],
    },
    rules: {
      'no-debugger': 'error',
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
      'tscni/no-shell': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@nx/enforce-module-boundaries': boundaries(false),
    },
  },
  { files: TESTS, rules: { '@nx/enforce-module-boundaries': boundaries(true) } },
  {
    files: HOT_PATH,
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'execa', message: 'execa costs ~45 ms at start-up: use run() from @tscni/net' }] },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportExpression[source.value='execa'], CallExpression[callee.name='require'][arguments.0.value='execa']",
          message: 'execa costs ~45 ms at start-up: use run() from @tscni/net',
        },
      ],
    },
  },
];
