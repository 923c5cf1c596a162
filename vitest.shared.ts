import { defineConfig } from 'vitest/config';
import { basename } from 'node:path';

/** Every project's vitest config: node environment, real processes, generous timeouts for kernel work. */
export function projectConfig(dir: string, overrides: { testTimeout?: number; fileParallelism?: boolean; include?: string[] } = {}) {
  return defineConfig({
    test: {
      name: basename(dir),
      root: dir,
      include: overrides.include ?? ['test/**/*.test.ts', 'src/**/*.test.ts'],
      environment: 'node',
      testTimeout: overrides.testTimeout ?? 30_000,
      hookTimeout: 60_000,
      fileParallelism: overrides.fileParallelism ?? true,
      globalSetup: [new URL('./tools/vitest-global-setup.ts', import.meta.url).pathname],
    },
  });
}
