import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The house rules fire: each case lints code as if it lived at `file` (a path in the repo) with eslint.config.mjs.
// The project-boundary rule reads the project graph Nx caches (any nx command writes it; CI builds first).
const root = join(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root, ignore: false });

async function rulesHit(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  expect(result.messages.filter((m) => m.fatal)).toEqual([]);
  return result.messages.map((m) => m.ruleId ?? '');
}

describe('eslint.config.mjs', () => {
  it('no shell string: shell: true, child_process exec/execSync by name, namespace or require', async () => {
    const cases = [
      "import { spawn } from 'node:child_process';\nspawn('ls', ['-l'], { shell: true });",
      "import { spawnSync } from 'node:child_process';\nconst sh = '/bin/sh';\nspawnSync('ls', [], { shell: sh });",
      "import { exec } from 'node:child_process';\nexec('ip link');",
      "import * as cp from 'child_process';\ncp.execSync('ip link');",
      "const { execSync } = require('node:child_process');",
      "require('node:child_process').exec('ip link');",
    ];
    for (const code of cases) expect(await rulesHit('apps/cli/src/fixture.ts', code), code).toEqual(['tscni/no-shell']);
    const fine =
      "import { spawn } from 'node:child_process';\nspawn('ip', ['link'], { shell: false });\n/x/.exec('x');";
    expect(await rulesHit('apps/cli/src/fixture.ts', fine)).toEqual([]);
  });

  it('no execa in the hot path (cni, net, plugins), static or dynamic; apps may use it', async () => {
    const code = "import { execa } from 'execa';\nexport const f = () => import('execa');";
    expect(await rulesHit('packages/plugins/main/loopback/src/fixture.ts', code)).toEqual([
      'no-restricted-imports',
      'no-restricted-syntax',
    ]);
    expect(await rulesHit('packages/net/src/fixture.ts', code)).toEqual([
      'no-restricted-imports',
      'no-restricted-syntax',
    ]);
    expect(await rulesHit('apps/cli/src/fixture.ts', code)).toEqual([]);
  });

  it('max-lines 400 and no debugger', async () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `export const x${i} = ${i};`).join('\n');
    expect(await rulesHit('packages/cni/src/fixture.ts', lines(400))).toEqual([]);
    expect(await rulesHit('packages/cni/src/fixture.ts', lines(401))).toEqual(['max-lines']);
    expect(await rulesHit('packages/cni/test/fixture.test.ts', lines(401))).toEqual([]);
    expect(await rulesHit('e2e/support/fixture.ts', 'export function f() {\n  debugger;\n}')).toEqual(['no-debugger']);
  });

  it('no import cycle', async () => {
    const file = 'tools/test/fixtures/lint/cycle-a.ts';
    const code = "import { b } from './cycle-b';\nexport const a = () => b;\n";
    expect(await rulesHit(file, code)).toEqual(['import-x/no-cycle']);
  });

  it('project boundaries: a lib imports libs only, a plugin libs and plugins', async () => {
    const plugin = "import { loopback } from '@tscni/loopback/plugin';\nexport { loopback };";
    expect(await rulesHit('packages/net/src/fixture.ts', plugin)).toEqual(['@nx/enforce-module-boundaries']);
    expect(await rulesHit('packages/net/test/fixture.test.ts', plugin)).toEqual(['@nx/enforce-module-boundaries']);
    expect(await rulesHit('packages/libcni/src/fixture.ts', "export { CniError } from '@tscni/cni';")).toEqual([]);
    expect(await rulesHit('packages/plugins/main/ptp/src/fixture.ts', plugin)).toEqual([]);
    const app = "export { runCli } from '@tscni/cli/src/cli';";
    expect(await rulesHit('packages/plugins/main/ptp/src/fixture.ts', app)).toEqual(['@nx/enforce-module-boundaries']);
  });
});
