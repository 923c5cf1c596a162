/**
 * Batch formats (ip -batch, tc -batch, iptables-restore, nft -f) split lines on whitespace, so every
 * value that reaches one must be a single safe token.
 */
const SAFE = /^[A-Za-z0-9_.:/@%+,=\-[\]]+$/;

export function token(value: string | number, what = 'argument'): string {
  const s = String(value);
  if (!SAFE.test(s)) throw new Error(`unsafe ${what} ${JSON.stringify(s)} for a batch command`);
  return s;
}

/** A rule comment, quoted for iptables-restore / nft: printable, no quotes, backslashes or newlines. */
export function comment(text: string): string {
  if (!/^[ -~]*$/.test(text) || /["\\]/.test(text) || text.length > 255)
    throw new Error(`unsafe comment ${JSON.stringify(text)}`);
  return `"${text}"`;
}
