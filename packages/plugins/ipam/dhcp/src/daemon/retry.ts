/**
 * Retransmission delays: four fast retries (2 s ± 1 s), then exponential backoff from 4 s (± 1 s) while
 * the delay stays below `resendMaxMs` (RFC 2131 §4.1; the reference's schedule).
 */
export function* backoffDelays(resendMaxMs: number): Generator<number> {
  const jitter = () => (Math.random() * 2 - 1) * 1000;
  for (let i = 0; i < 4; i++) yield 2000 + jitter();
  for (let base = 4000; base <= Math.max(resendMaxMs, 4000); base *= 2) yield base + jitter();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
