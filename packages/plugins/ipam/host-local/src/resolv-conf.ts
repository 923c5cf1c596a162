import { readText } from '@tscni/cni/files';
import type { DNS } from '@tscni/cni';

/**
 * A resolv.conf as a result `dns`, the way the reference IPAM plugins read it: `nameserver` (one per
 * line), the last `domain`, every `search` and `options` word; comments (`#`, `;`) and lines with a
 * keyword only are skipped.
 */
export function parseResolvConf(text: string): DNS {
  const dns: DNS = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, ...words] = line.split(/\s+/);
    if (words.length === 0) continue;
    switch (keyword) {
      case 'nameserver':
        (dns.nameservers ??= []).push(words[0]);
        break;
      case 'domain':
        dns.domain = words[0];
        break;
      case 'search':
        (dns.search ??= []).push(...words);
        break;
      case 'options':
        (dns.options ??= []).push(...words);
        break;
    }
  }
  return dns;
}

/** Read and parse a resolv.conf file; the error names the file. */
export function readResolvConf(path: string): DNS {
  let text: string;
  try {
    text = readText(path);
  } catch (err) {
    throw new Error(
      `open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
    );
  }
  return parseResolvConf(text);
}
