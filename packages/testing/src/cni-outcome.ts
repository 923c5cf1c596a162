/**
 * What a plugin call came to, in a form two calls can be compared by: `{ ok: value }`, or `{ err }` with a CNI
 * error's code, msg, details and stderr (anything else thrown as its text).
 */
export function cniOutcome(call: Promise<unknown>): Promise<{ ok: unknown } | { err: unknown }> {
  return call.then(
    (ok) => ({ ok }),
    (e: unknown) => {
      const c = e as { code?: unknown; msg?: unknown; details?: unknown; stderr?: string };
      const isCniError = e instanceof Error && typeof c.code === 'number' && 'msg' in c;
      return { err: isCniError ? { code: c.code, msg: c.msg, details: c.details, stderr: c.stderr } : String(e) };
    },
  );
}
