/**
 * Building `iptables-restore --noflush` scripts from a table's `iptables-save` text: a rule written
 * here in the canonical form iptables-save prints can be compared with what is already there, so
 * "insert unless present" needs no `iptables -C` process per rule.
 *
 * Note: with --noflush, a `:CHAIN` line flushes an existing user chain; declare only missing chains
 * (`declareMissing`) unless replacing the chain's contents is the point.
 */
import { savedChains } from './iptables';

/** A rule comment quoted the way iptables-save prints it (`"dnat name: \"n\" id: \"c\""`). */
export function restoreQuote(text: string): string {
  if (!/^[ -~]*$/.test(text) || text.includes('\\') || text.length > 255)
    throw new Error(`unsafe iptables comment ${JSON.stringify(text)}`);
  return `"${text.replace(/"/g, '\\"')}"`;
}

/** The comment of a saved rule, unquoted, or undefined. */
export function savedComment(rule: string): string | undefined {
  const m = /--comment ("(?:[^"\\]|\\.)*"|\S+)/.exec(rule);
  if (!m) return undefined;
  const raw = m[1];
  return raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
}

/** One argument of a restore line: a single token without quotes, comment markers or line breaks. */
export function restoreArg(value: string, what = 'iptables argument'): string {
  if (!/^[!-~]+$/.test(value) || /["'\\#;]/.test(value)) throw new Error(`unsafe ${what} ${JSON.stringify(value)}`);
  return value;
}

/** `*table` … `COMMIT`: one table's part of a restore script. */
export const restoreTable = (table: string, lines: readonly string[]): string =>
  `*${table}\n${lines.join('\n')}${lines.length ? '\n' : ''}COMMIT\n`;

/** `:CHAIN - [0:0]` for each chain the saved table does not have yet. */
export function declareMissing(saved: string, chains: readonly string[]): string[] {
  const have = savedChains(saved);
  return chains.filter((c) => !have.has(c)).map((c) => `:${c} - [0:0]`);
}

/** Saved rules of `chain` (canonical text, without `-A CHAIN `) that jump to `target`. */
export function rulesJumpingTo(saved: string, chain: string, target: string): string[] {
  const prefix = `-A ${chain} `;
  return saved
    .split('\n')
    .filter((l) => l.startsWith(prefix) && (l.endsWith(` -j ${target}`) || l.includes(` -j ${target} `)))
    .map((l) => l.slice(prefix.length));
}

/** True when `chain` already holds exactly `rule` (canonical text). */
export const hasSavedRule = (saved: string, chain: string, rule: string): boolean =>
  saved.split('\n').includes(`-A ${chain} ${rule}`);

/**
 * The lock every tscni plugin holds while it reads a ruleset and writes changes computed from it
 * (iptables-save → iptables-restore, nft list → nft -f), so two plugins cannot interleave.
 * Not /run/xtables.lock: legacy iptables-restore -w takes that one itself.
 */
export const RULES_LOCK_PATH = '/run/lock/tscni-rules.lock';
