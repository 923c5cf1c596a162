/**
 * JSON.parse keeps the last of two equal keys without a word. The reference rejects a `sysctl`
 * object that repeats a key, so this walks the raw (already valid) config text and reports the
 * keys repeated inside the objects at the given paths.
 */
export function repeatedKeys(json: string, paths: readonly string[][]): { path: string; key: string }[] {
  const wanted = new Set(paths.map((p) => p.join('\u0000')));
  const found: { path: string; key: string }[] = [];
  let i = 0;

  const skipSpace = () => {
    while (i < json.length && /\s/.test(json[i]!)) i++;
  };
  const readString = (): string => {
    const start = i;
    i++; // opening quote
    while (i < json.length && json[i] !== '"') i += json[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(json.slice(start, i)) as string;
  };
  const readValue = (path: string[]): void => {
    skipSpace();
    const c = json[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      const watched = wanted.has(path.join('\u0000'));
      skipSpace();
      while (i < json.length && json[i] !== '}') {
        skipSpace();
        const key = readString();
        if (watched && seen.has(key)) found.push({ path: path.join('.'), key });
        seen.add(key);
        skipSpace();
        i++; // colon
        readValue([...path, key]);
        skipSpace();
        if (json[i] === ',') i++;
        skipSpace();
      }
      i++;
    } else if (c === '[') {
      i++;
      skipSpace();
      while (i < json.length && json[i] !== ']') {
        readValue([...path, '[]']);
        skipSpace();
        if (json[i] === ',') i++;
        skipSpace();
      }
      i++;
    } else if (c === '"') {
      readString();
    } else {
      while (i < json.length && !/[\s,}\]]/.test(json[i]!)) i++;
    }
  };

  try {
    readValue([]);
  } catch {
    return found; // not reachable for text JSON.parse accepted; never let the scan itself fail a verb
  }
  return found;
}
