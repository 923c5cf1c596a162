/** What the A/B bench scripts share: their command-line values and a table of samples per row and build. */
import { join } from 'node:path';
import { REFERENCE_BIN } from '@tscni/testing/node';
import type { BinSet } from './cni';

/** The value after `--name` on the command line. */
export const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/** This tree's Bun executables, an earlier build's (a copy of its dist/ at `before`) and the reference. */
export const abSets = (before: string | undefined): BinSet[] => [
  { tag: 'bun', dir: join(import.meta.dirname, '../../dist/bun/cni-bin'), net: 64 },
  ...(before ? [{ tag: 'bun0', dir: join(before, 'bun/cni-bin'), net: 73 }] : []),
  { tag: 'ref', dir: REFERENCE_BIN, net: 67 },
];

/** Row (`bridge ADD`, `chain:portmap DEL`, …) → set tag → samples. */
export class Samples extends Map<string, Record<string, number[]>> {
  record(what: string, tag: string, value: number): void {
    const r = this.get(what) ?? {};
    (r[tag] ??= []).push(value);
    this.set(what, r);
  }
}
