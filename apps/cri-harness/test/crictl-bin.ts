import { join } from 'node:path';

/** The real crictl (v1.26.1) that tests use: `<repo>/../shared/tools/crictl`. CI always has it; a test that needs it fails without it. */
export const CRICTL = join(import.meta.dirname, '../../../../shared/tools/crictl');
