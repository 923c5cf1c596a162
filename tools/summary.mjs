#!/usr/bin/env node
// The one closing line CI reads, "N passed, N failed, N skipped", from one or more vitest JSON reports
// (the main run, the kernel lane):  node tools/summary.mjs reports/vitest.json [--exit N] [reports/kernel-lane.json [--exit N] …]
//   --exit N         the exit status of the run that wrote the report before it: non-zero with nothing of that
//                    report counted failed is one failure
//   EXTRA_FAILED=n   checks outside vitest (typecheck, lint, a lane that did not run) that failed
//   UNHANDLED_ERRORS=n  "Vitest caught n unhandled errors" (its JSON report has no count of them)
// A report that is missing or unreadable is one failure; so is each reason a suite gave for skipping that is not a
// kernel feature (a tool, service or reference plugin CI lacks).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Count one vitest JSON report exactly: each test once, by its own status (vitest's numFailedTestSuites
 * also counts every describe block above a failed test, so it cannot be added to the failed tests). Errors
 * outside tests count as failures too: a file that failed with no failed test (it did not load, or a hook
 * threw), a describe block that failed with no failed test under it (a hook threw: its tests show as
 * skipped; nested blocks fail together, so at most one per file with failed tests is counted), and an unhandled error
 * (the report says success: false with nothing else failed).
 */
export function countReport(report, { unhandledKnown = false } = {}) {
  const counts = { passed: 0, failed: 0, skipped: 0, errorsOutsideTests: 0 };
  let explainedSuites = 0;
  let filesWithFailedTest = 0;
  let filesWithoutFailedTest = 0;
  for (const file of report.testResults ?? []) {
    const tests = file.assertionResults ?? [];
    for (const t of tests) {
      if (t.status === 'passed') counts.passed++;
      else if (t.status === 'failed') counts.failed++;
      else counts.skipped++; // skipped, pending, todo, disabled
    }
    const failedPaths = new Set();
    for (const t of tests.filter((x) => x.status === 'failed')) {
      const titles = t.ancestorTitles ?? [];
      for (let i = 1; i <= titles.length; i++) failedPaths.add(JSON.stringify(titles.slice(0, i)));
    }
    if (file.status !== 'failed') continue;
    if (!tests.some((x) => x.status === 'failed')) filesWithoutFailedTest++;
    else {
      filesWithFailedTest++;
      explainedSuites += 1 + failedPaths.size;
    }
  }
  const unexplained = Math.max(0, (report.numFailedTestSuites ?? 0) - explainedSuites - filesWithoutFailedTest);
  // (a file without a failed test is one error, whatever number of its describe blocks failed with it)
  counts.errorsOutsideTests = filesWithoutFailedTest + Math.min(unexplained, filesWithFailedTest);
  if (report.success === false && !unhandledKnown && counts.failed + counts.errorsOutsideTests === 0)
    counts.errorsOutsideTests = 1;
  return counts;
}

/**
 * Suites that skipped for something other than a kernel feature: a suite names why it skips in its title
 * (`… — skipped: needs etcd`), and only "kernel lacks …" is a reason CI may give (the kernel lane runs those).
 * A missing tool, service or reference plugin in CI is a hole, so each distinct reason counts as one failure.
 */
export function missingDependencySkips(report) {
  const reasons = new Set();
  for (const file of report.testResults ?? [])
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'passed' || t.status === 'failed') continue;
      const reason = /— skipped: ([^>]*)/.exec((t.ancestorTitles ?? []).join(' > '))?.[1]?.trim();
      if (reason && !reason.startsWith('kernel lacks')) reasons.add(reason);
    }
  return [...reasons];
}

/** The totals over several reports; `missing` names the reports that could not be read (one failure each). */
export function summarize(reports, { extraFailed = 0, unhandledErrors = 0 } = {}) {
  const total = {
    passed: 0,
    failed: (Number(extraFailed) || 0) + (Number(unhandledErrors) || 0),
    skipped: 0,
    notes: [],
  };
  if (Number(unhandledErrors)) total.notes.push(`${unhandledErrors} unhandled error(s) during the run`);
  for (const r of reports) {
    if (r.error) {
      total.failed++;
      total.notes.push(`no test report ${r.file} (${r.error})`);
      continue;
    }
    // (unhandled errors counted from the log are what makes success: false; not twice)
    const c = countReport(r.report, { unhandledKnown: Number(unhandledErrors) > 0 });
    total.passed += c.passed;
    total.skipped += c.skipped;
    total.failed += c.failed + c.errorsOutsideTests;
    if (Number(r.exitStatus ?? 0) !== 0 && c.failed + c.errorsOutsideTests === 0 && !Number(unhandledErrors)) {
      total.failed++;
      total.notes.push(`${r.file}: its run exited ${r.exitStatus} with no failure in the report`);
    }
    for (const reason of missingDependencySkips(r.report)) {
      total.failed++;
      total.notes.push(`${r.file}: tests skipped for a missing dependency (${reason}): CI must have it`);
    }
    if (c.errorsOutsideTests)
      total.notes.push(
        `${r.file}: ${c.errorsOutsideTests} error(s) outside tests (a file that did not load, a hook, an unhandled error)`,
      );
  }
  return total;
}

export function formatTotals(t) {
  return `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const reports = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--exit') {
      if (reports.length) reports[reports.length - 1].exitStatus = Number(args[++i]);
      continue;
    }
    try {
      reports.push({ file: args[i], report: JSON.parse(readFileSync(args[i], 'utf8')) });
    } catch (err) {
      reports.push({ file: args[i], error: err.message });
    }
  }
  if (!reports.length) reports.push({ file: 'reports/vitest.json', error: 'no report given' });
  const totals = summarize(reports, {
    extraFailed: process.env.EXTRA_FAILED ?? 0,
    unhandledErrors: process.env.UNHANDLED_ERRORS ?? 0,
  });
  for (const n of totals.notes) console.log(n);
  console.log(formatTotals(totals));
  process.exit(totals.failed ? 1 : 0);
}
