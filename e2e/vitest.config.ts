import { projectConfig } from '../vitest.shared';
export default projectConfig(import.meta.dirname, { include: ['**/*.test.ts'], testTimeout: 120_000 });
