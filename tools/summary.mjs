#!/usr/bin/env node
// Print vitest's JSON report as the one closing line CI reads: "N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';

let report;
try {
  report = JSON.parse(readFileSync(process.argv[2] ?? 'reports/vitest.json', 'utf8'));
} catch (err) {
  console.log(`no test report (${err.message})`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
// EXTRA_FAILED: checks outside vitest (typecheck, lint) that failed.
const failed = report.numFailedTests + (report.numFailedTestSuites ?? 0) - countSuitesWithFailedTests(report) + Number(process.env.EXTRA_FAILED ?? 0);
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`${report.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);

// A suite that failed to load counts as one failure; a suite whose tests failed is already counted.
function countSuitesWithFailedTests(r) {
  return r.testResults.filter((s) => s.status === 'failed' && s.assertionResults.some((a) => a.status === 'failed')).length;
}
