/**
 * Rows of the benchmark: samples per side, p50/p90, ours/reference, printed and written as JSON. `resident` is ours in
 * resident mode (docs/resident.md), a third column when the run has it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

export type Side = 'ours' | 'reference' | 'resident';
export interface Row {
  what: string;
  unit: 'ms' | 's';
  /** The goal for ours/reference at p50. */
  goal: number;
  values: Record<Side, number[]>;
}

export class Table {
  readonly rows: Row[] = [];
  readonly extra: Record<string, unknown> = {};

  row(what: string, goal: number, unit: Row['unit'] = 'ms'): Row {
    const r: Row = { what, unit, goal, values: { ours: [], reference: [], resident: [] } };
    this.rows.push(r);
    return r;
  }

  /** Prints the table and writes `file`; the load average before and after says how noisy the run was. */
  report(file: string, meta: Record<string, unknown>): void {
    const withResident = this.rows.some((r) => r.values.resident.length > 0);
    const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2) : '–');
    const head = [
      'what'.padEnd(66),
      'unit',
      'ours p50'.padStart(9),
      'p90'.padStart(7),
      'ref p50'.padStart(9),
      'p90'.padStart(7),
      'ours/ref'.padStart(9),
      ...(withResident ? ['res p50'.padStart(9), 'res/ref'.padStart(8)] : []),
      'goal'.padStart(6),
      'n'.padStart(3),
    ];
    const lines = [head.join(' ')];
    const rows = this.rows.map((r) => {
      const ours = { p50: quantile(r.values.ours, 0.5), p90: quantile(r.values.ours, 0.9) };
      const reference = { p50: quantile(r.values.reference, 0.5), p90: quantile(r.values.reference, 0.9) };
      const ratio = ours.p50 / reference.p50;
      const resident = { p50: quantile(r.values.resident, 0.5), p90: quantile(r.values.resident, 0.9) };
      const residentRatio = resident.p50 / reference.p50;
      const n = Math.min(r.values.ours.length, r.values.reference.length);
      lines.push(
        [
          r.what.padEnd(66),
          r.unit.padEnd(4),
          fmt(ours.p50).padStart(9),
          fmt(ours.p90).padStart(7),
          fmt(reference.p50).padStart(9),
          fmt(reference.p90).padStart(7),
          (Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '–').padStart(9),
          ...(withResident
            ? [
                fmt(resident.p50).padStart(9),
                (Number.isFinite(residentRatio) ? `${residentRatio.toFixed(2)}×` : '–').padStart(8),
              ]
            : []),
          `≤${r.goal}×`.padStart(6),
          String(n).padStart(3),
        ].join(' '),
      );
      const third = withResident ? { resident, residentRatio } : {};
      return { what: r.what, unit: r.unit, ours, reference, ratio, ...third, goal: r.goal, samples: r.values };
    });
    const machine = { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg().map((x) => +x.toFixed(2)) };
    console.log(
      `\ntscni benchmark — ${new Date().toISOString()} — load average now ${machine.loadavg.join(' ')} on ${machine.cpus} CPUs\n`,
    );
    console.log(lines.join('\n'));
    if (Object.keys(this.extra).length) console.log(`\n${JSON.stringify(this.extra)}`);
    mkdirSync(file.replace(/\/[^/]*$/, ''), { recursive: true });
    writeFileSync(
      file,
      JSON.stringify({ date: new Date().toISOString(), machine, ...meta, rows, ...this.extra }, null, 2),
    );
    console.log(`written ${file}`);
  }
}

export const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? NaN;
};

export const now = (): number => performance.now();
