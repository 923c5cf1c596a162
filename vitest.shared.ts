import { defineConfig } from 'vitest/config';
import { basename } from 'node:path';

/** Every project's vitest config: node environment, real processes, generous timeouts for kernel work. */
export function projectConfig(
  dir: string,
  overrides: { testTimeout?: number; fileParallelism?: boolean; include?: string[] } = {},
) {
  return defineConfig({
    test: {
      name: basename(dir),
      root: dir,
      include: overrides.include ?? ['test/**/*.test.ts', 'src/**/*.test.ts'],
      environment: 'node',
      // TSCNI_TEST_TIMEOUT_MS / TSCNI_HOOK_TIMEOUT_MS: floors for slow machines (the kernel lane's emulated guest),
      // which the CLI's --testTimeout/--hookTimeout cannot give a project that sets its own
      testTimeout: Math.max(overrides.testTimeout ?? 30_000, Number(process.env.TSCNI_TEST_TIMEOUT_MS ?? 0)),
      hookTimeout: Math.max(60_000, Number(process.env.TSCNI_HOOK_TIMEOUT_MS ?? 0)),
      fileParallelism: overrides.fileParallelism ?? true,
      globalSetup: [new URL('./tools/vitest-global-setup.ts', import.meta.url).pathname],
    },
  });
}
