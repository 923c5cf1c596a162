/**
 * The `ip` invocations done in-process: the subset of `ip [-j] [-d] [-batch -]` commands the plugins' hot paths use,
 * parsed up front. Anything else (another option, object or keyword, an odd name) is `undefined`, and the whole
 * invocation goes to `ip` unchanged.
 */

export type Command =
  | { op: 'link-set'; dev: string; up: boolean }
  | { op: 'link-show'; dev: string }
  | { op: 'addr-show'; dev: string; scope?: number }
  | { op: 'link-del'; dev: string };

export interface Invocation {
  json: boolean;
  details: boolean;
  /** `-batch -`: errors end with `Command failed -:N`. */
  batch: boolean;
  commands: Command[];
  /** Each command's words as given (for the rest of a batch handed to `ip`). */
  lines: string[][];
}

/**
 * A name `ip` takes as it is (check_ifname: 1–15 bytes, no `/` or space), and no `@`/`:` that ip may read:
 * `[A-Za-z0-9_.-]{1,15}`, not `.` or `..`. (By hand: a regular expression's first use costs ≈ 0.1 ms of CPU.)
 */
function devName(s: string | undefined): string | undefined {
  if (s === undefined || s.length < 1 || s.length > 15 || s === '.' || s === '..') return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45;
    if (!ok) return undefined;
  }
  return s;
}

function parseCommand(w: string[], json: boolean): Command | undefined {
  const [obj, verb, ...rest] = w;
  if (
    obj === 'link' &&
    verb === 'set' &&
    rest.length === 3 &&
    rest[0] === 'dev' &&
    (rest[2] === 'up' || rest[2] === 'down')
  ) {
    const dev = devName(rest[1]);
    return dev ? { op: 'link-set', dev, up: rest[2] === 'up' } : undefined;
  }
  if (obj === 'link' && verb === 'show' && json && rest.length === 2 && rest[0] === 'dev') {
    const dev = devName(rest[1]);
    return dev ? { op: 'link-show', dev } : undefined;
  }
  if (
    obj === 'addr' &&
    verb === 'show' &&
    json &&
    rest[0] === 'dev' &&
    (rest.length === 2 || (rest.length === 4 && rest[2] === 'scope' && rest[3] === 'global'))
  ) {
    const dev = devName(rest[1]);
    return dev ? { op: 'addr-show', dev, ...(rest.length === 4 ? { scope: 0 } : {}) } : undefined;
  }
  if (obj === 'link' && verb === 'del' && rest.length === 2 && rest[0] === 'dev') {
    const dev = devName(rest[1]);
    return dev ? { op: 'link-del', dev } : undefined;
  }
  return undefined;
}

/** `ip` argv (+ the batch on stdin) as commands, or undefined when any part is outside the subset. */
export function parseInvocation(args: readonly string[], input: string | undefined): Invocation | undefined {
  let json = false;
  let details = false;
  let i = 0;
  for (; i < args.length && args[i].startsWith('-'); i++) {
    if (args[i] === '-j') json = true;
    else if (args[i] === '-d') details = true;
    else if (args[i] === '-batch' && args[i + 1] === '-' && i + 2 === args.length) break;
    else return undefined;
  }
  const batch = args[i] === '-batch';
  let lines: string[][];
  if (batch) {
    if (input === undefined || !input.endsWith('\n')) return undefined;
    lines = input
      .slice(0, -1)
      .split('\n')
      .map((l) => l.split(' '));
  } else {
    if (input !== undefined) return undefined;
    lines = [args.slice(i)];
  }
  const commands: Command[] = [];
  for (const words of lines) {
    const c = parseCommand(words, json);
    if (!c) return undefined;
    commands.push(c);
  }
  return commands.length ? { json, details, batch, commands, lines } : undefined;
}
