import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, TestNode, linksIn, missingForKernelTests, sh } from '@tscni/testing/node';

interface Case {
  id: string;
  plugin: string;
  command: string;
  env: Record<string, string | null>;
  stdin: string | { prefix: string; repeat: string; times: number };
  code: number;
  msg?: string;
}

const corpus: Case[] = JSON.parse(readFileSync(join(import.meta.dirname, 'corpus.json'), 'utf8'));
const plugins = [...new Set(corpus.map((c) => c.plugin))];
const missing = missingForKernelTests(['ip', 'nsenter', 'iptables', 'nft']);
const ESCAPES = ['/tmp/tscni-pwned', '/etc/cron.d/hardnet', '/etc/passwd.lock'];

describe.skipIf(!!missing)(
  `bad input corpus (${corpus.length} cases)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let pod: string;
    let rulesBefore: string;
    beforeAll(() => {
      node = new TestNode('bad');
      pod = node.addPod();
      // A master for the one-interface plugins, so their config errors are about the field under test.
      node.exec('ip', ['link', 'add', 'hup0', 'type', 'veth', 'peer', 'name', 'hup0p']);
      rulesBefore = rules();
    });
    afterAll(() => node?.destroy());

    const rules = () =>
      sh('iptables-save', [], { netns: node.name }).replace(/^#.*$/gm, '') +
      sh('nft', ['list', 'ruleset'], { netns: node.name });

    for (const plugin of plugins) {
      describe(plugin, () => {
        const cases = corpus.filter((c) => c.plugin === plugin);
        it.each(cases.map((c, i) => [c.id, c, i] as const))('%s', async (_id, c, i) => {
          const env: Record<string, string> = {
            CNI_COMMAND: c.command,
            CNI_CONTAINERID: `hard-${plugin}-${i}`,
            CNI_NETNS: pod,
            CNI_IFNAME: 'eth0',
            CNI_PATH: DIST_BIN,
          };
          for (const [k, v] of Object.entries(c.env)) {
            if (v === null) delete env[k];
            else env[k] = v;
          }
          const stdin = typeof c.stdin === 'string' ? c.stdin : c.stdin.prefix + c.stdin.repeat.repeat(c.stdin.times);
          const r = await node.runPlugin(
            join(DIST_BIN, plugin),
            env as never,
            stdin.replaceAll('$TMP', node.tmp).replaceAll('$POD', pod),
          );
          expect(r.code, r.stdout + r.stderr).toBe(1);
          expect(r.json, `stdout is a CNI error: ${r.stdout.slice(0, 300)}`).toMatchObject({
            code: c.code,
            msg: expect.any(String),
          });
          if (c.msg) expect(r.json.msg + ' ' + (r.json.details ?? '')).toMatch(new RegExp(c.msg));
          expect(r.stdout + r.stderr, 'no stack trace').not.toMatch(/\n\s+at .+[(:]\d+/);
        });

        it('left no interface, rule or stray file behind', () => {
          const links = linksIn(node.path).filter((l) => !['lo', 'hup0', 'hup0p'].includes(l.ifname));
          // A bridge the plugin created before IPAM refused the config may stay (the reference never deletes
          // bridges), but nothing may be attached to it.
          expect(
            links.filter((l) => (l as { linkinfo?: { info_kind?: string } }).linkinfo?.info_kind !== 'bridge'),
          ).toEqual([]);
          expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
          expect(rules()).toBe(rulesBefore);
          for (const f of ESCAPES) expect(existsSync(f), f).toBe(false);
        });
      });
    }
  },
);
