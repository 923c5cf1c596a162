import { projectConfig } from '../../vitest.shared';
// Its tests start the real daemon and exec the Bun executable many times: generous on a loaded machine.
export default projectConfig(import.meta.dirname, { testTimeout: 120_000 });
