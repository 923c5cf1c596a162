// ESLint: the house rules (docs/CONTRIBUTING.md), import cycles and the Nx project boundaries. Syntax-only on
// purpose (no type-aware rules): CI has 2 cores. Each project's `lint` target runs `eslint <root>` (tools/nx-plugin.cjs).
import nx from '@nx/eslint-plugin';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import house from './tools/eslint/house-rules.mjs';

const SOURCES = ['**/*.{ts,mts,cts,js,mjs,cjs}'];
const EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];
const TESTS = ['**/test/**', '**/*.test.ts', '**/vitest.config.ts', '**/vitest.shared.ts'];
// Plugins run once per pod per chain step, and cni/net are bundled into every one of them.
const HOT_PATH = ['packages/{cni,net,embedded-ipam}/src/**', 'packages/plugins/**/src/**'];

// import-x/no-cycle follows relative imports only: a cycle between projects is @nx/enforce-module-boundaries' to
// report, and following @tscni/* into other projects made each project's lint parse half the repo.
const nodeResolver = createNodeResolver({ extensions: [...EXTENSIONS, '.json'] });
const relativeOnly = {
  interfaceVersion: 3,
  name: 'tscni-relative-only',
  resolve: (source, file) => (source.startsWith('.') ? nodeResolver.resolve(source, file) : { found: false }),
};

/** The root of @tscni/net re-exports every layer for outside users; code here names the layer it uses. */
const NET_ROOT = {
  name: '@tscni/net',
  message: 'import the layer you need: @tscni/net/host, @tscni/net/netfilter or @tscni/net/pod',
};

/**
 * A plugin call evaluates every module it imports (docs/performance.md): on the hot path, values come from the one
 * module that defines them (`@tscni/cni/errors`, `@tscni/net/host/ip`, …), never from a barrel that evaluates a whole
 * package or layer. Types may still come from the barrels (they are erased).
 */
const BARRELS = [
  ['@tscni/cni', '@tscni/cni/errors, @tscni/cni/go-json, @tscni/cni/invoke'],
  ['@tscni/net/host', '@tscni/net/host/ip, @tscni/net/host/link'],
  ['@tscni/net/netfilter', '@tscni/net/netfilter/iptables'],
  ['@tscni/net/pod', '@tscni/net/pod/link-attachment'],
].map(([name, e]) => ({
  name,
  allowTypeImports: true,
  message: `import values from the module that defines them (${e}, …): a barrel evaluates all of it at every plugin call`,
}));

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
    ],
    // A library's tests use the test kit, which is built on that library (Go's pkg/testutils does the same);
    // Nx drops the edge from the task graph (implicitDependencies "!testing"), and so does this rule.
    ignoredCircularDependencies: [['net', 'testing']],
    // The harness and the CLI read etcd settings at start-up and load the etcd client only when they talk to etcd.
    checkDynamicDependenciesExceptions: ['@tscni/etcd'],
    depConstraints: Object.entries(ALLOWED).map(([sourceTag, allowed]) => ({
      sourceTag,
      onlyDependOnLibsWithTags: withTesting && !allowed.includes('*') ? [...allowed, 'type:testing'] : allowed,
    })),
  },
];

export default [
  {
    ignores: [
      '**/dist/**',
      '**/reports/**',
      '**/node_modules/**',
      '**/.nx/**',
      '**/coverage/**',
      '**/*.d.ts',
      'tools/test/fixtures/**',
    ],
  },
  {
    files: SOURCES,
    languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@nx': nx, 'import-x': importX, tscni: house },
    settings: {
      // import-x follows only files with these extensions, parsed with typescript-eslint's parser.
      'import-x/extensions': EXTENSIONS,
      'import-x/parsers': { '@typescript-eslint/parser': EXTENSIONS },
      'import-x/resolver-next': [relativeOnly],
    },
    rules: {
      'no-debugger': 'error',
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
      'tscni/no-shell': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@nx/enforce-module-boundaries': boundaries(false),
      'no-restricted-imports': ['error', { paths: [NET_ROOT] }],
    },
  },
  // @tscni/net's layers import only downwards: pod → netfilter → host.
  {
    files: ['packages/net/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './packages/net/src/host',
              from: ['./packages/net/src/netfilter', './packages/net/src/pod'],
              message: 'host is the bottom layer',
            },
            {
              target: './packages/net/src/netfilter',
              from: './packages/net/src/pod',
              message: 'netfilter sits below pod',
            },
          ],
        },
      ],
    },
  },
  // Tests may import type:testing; the 400-line cap is for product code (as tools/lint.mjs had it): table-driven
  // suites grow past it once Prettier wraps them at 120 columns.
  { files: TESTS, rules: { '@nx/enforce-module-boundaries': boundaries(true), 'max-lines': 'off' } },
  {
    files: HOT_PATH,
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: BARRELS }],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            NET_ROOT,
            { name: 'execa', message: 'execa costs ~45 ms at start-up: use run() from @tscni/net/host' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "ImportExpression[source.value='execa'], CallExpression[callee.name='require'][arguments.0.value='execa']",
          message: 'execa costs ~45 ms at start-up: use run() from @tscni/net',
        },
        {
          // A schema built at module level is built at every plugin call, used or not.
          selector: [
            'Program > VariableDeclaration > VariableDeclarator',
            'Program > ExportNamedDeclaration > VariableDeclaration > VariableDeclarator',
          ]
            .map((d) => `${d} > CallExpression[callee.name!='lazySchema']:has(MemberExpression[object.name='z'])`)
            .join(', '),
          message: 'build a zod schema on first use: lazySchema(() => z.…) from @tscni/cni/lazy-schema',
        },
      ],
    },
  },
];
