import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { countReport, formatTotals, missingDependencySkips, summarize } from '../summary.mjs';

const mixed = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/vitest-mixed.json'), 'utf8'));
const file = (name: string, status: string, tests: [string[], string][], message = '') => ({
  name,
  status,
  message,
  assertionResults: tests.map(([ancestorTitles, s], i) => ({
    ancestorTitles,
    title: `t${i}`,
    fullName: `t${i}`,
    status: s,
    failureMessages: [],
  })),
});

describe('tools/summary.mjs', () => {
  it('a real vitest report (nested failing test, skip, todo, a throwing beforeAll, a file that did not load): each test once, each error outside tests once', () => {
    // vitest's own counters: numFailedTests 1 + numFailedTestSuites 5 (the file and both describe blocks above the
    // failed test, the hook's block, the file that did not load) — the old summary printed 5 failed
    expect(countReport(mixed)).toEqual({ passed: 2, failed: 1, skipped: 4, errorsOutsideTests: 2 });
    expect(formatTotals(summarize([{ file: 'r.json', report: mixed }]))).toBe('2 passed, 3 failed, 4 skipped');
  });

  it('a clean run', () => {
    const report = {
      success: true,
      numFailedTestSuites: 0,
      testResults: [
        file('a', 'passed', [
          [['d'], 'passed'],
          [[], 'skipped'],
        ]),
      ],
    };
    expect(formatTotals(summarize([{ file: 'r.json', report }]))).toBe('1 passed, 0 failed, 1 skipped');
  });

  it('a failed test three describe blocks deep counts once', () => {
    const report = {
      success: false,
      numFailedTests: 1,
      numFailedTestSuites: 4,
      testResults: [
        file('a', 'failed', [
          [['x', 'y', 'z'], 'failed'],
          [['x'], 'passed'],
        ]),
      ],
    };
    expect(summarize([{ file: 'r.json', report }])).toMatchObject({ passed: 1, failed: 1 });
  });

  it('a hook that threw in nested blocks (tests show as skipped) is one failure, not "0 failed"', () => {
    const report = {
      success: false,
      numFailedTests: 0,
      numFailedTestSuites: 3,
      testResults: [
        file('a', 'failed', [
          [['outer', 'hook'], 'skipped'],
          [['outer', 'hook'], 'skipped'],
        ]),
      ],
    };
    expect(summarize([{ file: 'r.json', report }])).toMatchObject({ passed: 0, failed: 1, skipped: 2 });
  });

  it("an unhandled error: success false with every test passed is a failure; counted once with the log's count", () => {
    const report = { success: false, numFailedTestSuites: 0, testResults: [file('a', 'passed', [[[], 'passed']])] };
    expect(summarize([{ file: 'r.json', report }])).toMatchObject({ passed: 1, failed: 1 });
    expect(summarize([{ file: 'r.json', report }], { unhandledErrors: 2 })).toMatchObject({ passed: 1, failed: 2 });
  });

  it('several reports add up; a missing report, extra failures and a failed vitest exit count', () => {
    const ok = {
      success: true,
      numFailedTestSuites: 0,
      testResults: [
        file('a', 'passed', [
          [[], 'passed'],
          [[], 'passed'],
        ]),
      ],
    };
    const t = summarize(
      [
        { file: 'main.json', report: ok },
        { file: 'lane.json', report: ok },
        { file: 'gone.json', error: 'ENOENT' },
      ],
      { extraFailed: 1 },
    );
    expect(formatTotals(t)).toBe('4 passed, 2 failed, 0 skipped');
    expect(t.notes.join('\n')).toContain('gone.json');
    expect(summarize([{ file: 'main.json', report: ok, exitStatus: 1 }])).toMatchObject({ failed: 1 });
    expect(summarize([{ file: 'main.json', report: mixed, exitStatus: 1 }])).toMatchObject({ failed: 3 });
  });

  it('a suite skipped for a missing tool or reference plugin fails (once per reason); one skipped for a kernel feature does not', () => {
    const report = {
      success: true,
      numFailedTestSuites: 0,
      testResults: [
        file('a', 'passed', [
          [['etcd subnet manager — skipped: needs etcd'], 'skipped'],
          [['etcd subnet manager — skipped: needs etcd', 'inner'], 'skipped'],
          [['vlan — skipped: kernel lacks CONFIG_VLAN_8021Q (8021q)'], 'skipped'],
          [['tscni only'], 'skipped'],
          [['d'], 'passed'],
        ]),
      ],
    };
    expect(missingDependencySkips(report)).toEqual(['needs etcd']);
    const t = summarize([{ file: 'r.json', report }]);
    expect(formatTotals(t)).toBe('1 passed, 1 failed, 4 skipped');
    expect(t.notes.join('\n')).toContain('missing dependency (needs etcd)');
  });
});
