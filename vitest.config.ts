import { defineConfig } from 'vitest/config';

// One run over every project (the CI's single summary); `nx test <project>` runs one of them.
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'packages/plugins/*/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      'e2e/vitest.config.{ts,mts}',
      'tools/vitest.config.ts',
    ],
  },
});
