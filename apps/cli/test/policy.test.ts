/** `tscni policy` against a real etcd (plain http; policy-tls.test.ts for TLS): apply YAML/JSON, ls, explain, namespace labels, delete. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdKV } from '@tscni/etcd/client';
import { missingForKernelTests } from '@tscni/testing/node';
import { namespaceKeyOf, podKeyOf } from '@tscni/policy';
import { runCli } from '../src/cli';
import { LocalEtcd } from '@tscni/testing/etcd';

const missing = missingForKernelTests(['etcd']);

const YAML = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: default-deny, namespace: prod }
spec:
  podSelector: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: web-from-ops, namespace: prod }
spec:
  podSelector: { matchLabels: { app: web } }
  ingress:
    - from:
        - namespaceSelector: { matchLabels: { team: ops } }
      ports: [{ port: 8000, endPort: 8080 }]
`;

describe.skipIf(!!missing)(`tscni policy${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let etcd: LocalEtcd;
  let dir: string;
  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['policy', ...argv, '--etcd-endpoints', etcd.endpoint],
      {},
      { out: (l) => void out.push(l), err: (l) => void err.push(l) },
      new AbortController().signal,
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  beforeAll(async () => {
    etcd = await LocalEtcd.start();
    dir = mkdtempSync(join(tmpdir(), 'tscni-policy-cli-'));
  }, 30_000);
  afterAll(async () => {
    await etcd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('apply -f a multi-document YAML stores each policy; ls lists them', async () => {
    writeFileSync(join(dir, 'p.yaml'), YAML);
    expect(await cli('apply', '-f', join(dir, 'p.yaml'))).toMatchObject({
      code: 0,
      out: 'networkpolicy prod/default-deny configured\nnetworkpolicy prod/web-from-ops configured',
    });
    const ls = await cli('ls');
    expect(ls.code).toBe(0);
    expect(ls.out.split('\n')).toEqual([
      expect.stringMatching(/^NAMESPACE\s+NAME\s+POD-SELECTOR\s+POLICY-TYPES$/),
      expect.stringMatching(/^prod\s+default-deny\s+<all>\s+Ingress$/),
      expect.stringMatching(/^prod\s+web-from-ops\s+app=web\s+Ingress$/),
    ]);
  });

  it('apply -f JSON with -n for a policy without a namespace', async () => {
    writeFileSync(
      join(dir, 'p.json'),
      JSON.stringify({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'egress-dns' },
        spec: { podSelector: {}, egress: [{ ports: [{ protocol: 'UDP', port: 53 }] }] },
      }),
    );
    expect((await cli('apply', '-f', join(dir, 'p.json'), '-n', 'dev')).out).toBe(
      'networkpolicy dev/egress-dns configured',
    );
    expect((await cli('ls', '-n', 'dev')).out).toMatch(/dev\s+egress-dns\s+<all>\s+Ingress,Egress/);
  });

  it('explain lists the policies that select a pod, what they allow and the peers each rule resolves to now', async () => {
    // What the harness publishes for a running sandbox (a dual-stack one lists every address in ips).
    const kv = new EtcdKV({ endpoints: [etcd.endpoint] });
    await kv.put(
      podKeyOf('/tscni/policy', 'prod', 'web-1'),
      JSON.stringify({ ip: '10.244.1.5', labels: { app: 'web' }, node: 'n1' }),
    );
    await kv.put(
      podKeyOf('/tscni/policy', 'ops', 'mon'),
      JSON.stringify({ ip: '10.244.2.7', ips: ['10.244.2.7', 'fd00:244:2::7'], labels: {}, node: 'n2' }),
    );
    await kv.put(
      podKeyOf('/tscni/policy', 'dev', 'batch'),
      JSON.stringify({ ip: '10.244.3.9', labels: {}, node: 'n3' }),
    );
    await kv.put(namespaceKeyOf('/tscni/policy', 'ops'), JSON.stringify({ labels: { team: 'ops' } }));
    kv.close();
    writeFileSync(
      join(dir, 'block.json'),
      JSON.stringify({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'web-from-block', namespace: 'prod' },
        spec: {
          podSelector: { matchLabels: { app: 'web' } },
          ingress: [
            {
              from: [
                { ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.3.0/24'] } },
                { ipBlock: { cidr: 'fd00:244::/32', except: ['fd00:244:3::/48'] } },
              ],
            },
          ],
        },
      }),
    );
    expect(await cli('apply', '-f', join(dir, 'block.json'))).toEqual({
      code: 0,
      out: 'networkpolicy prod/web-from-block configured',
      err: '',
    });
    const r = await cli('explain', 'prod/web-1');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'pod prod/web-1 10.244.1.5 on n1 labels app=web',
      'ingress: isolated by prod/default-deny, prod/web-from-block, prod/web-from-ops; allowed:',
      '  from ipBlock 10.244.0.0/16 except 10.244.3.0/24 or ipBlock fd00:244::/32 except fd00:244:3::/48 on any port  [prod/web-from-block]',
      '    now: 10.244.0.0-10.244.2.255, 10.244.4.0-10.244.255.255, fd00:244::-fd00:244:2:ffff:ffff:ffff:ffff:ffff, fd00:244:4::-fd00:244:ffff:ffff:ffff:ffff:ffff:ffff',
      '  from all pods in namespaces team=ops on TCP/8000-8080  [prod/web-from-ops]',
      '    now: ops/mon 10.244.2.7,fd00:244:2::7',
      'egress: not isolated, everything allowed',
    ]);
    expect((await cli('explain', 'ops/mon')).out).toContain('pod ops/mon 10.244.2.7,fd00:244:2::7 on n2');
    await cli('delete', 'web-from-block', '-n', 'prod');
    expect(await cli('explain', 'prod/nope')).toMatchObject({ code: 1, out: expect.stringContaining('not in etcd') });
  });

  it('namespace labels, delete by name and by file; bad input is a one-line error', async () => {
    expect((await cli('namespace', 'ops', 'team=ops')).out).toBe('namespace ops labelled team=ops');
    expect(await cli('delete', 'default-deny', '-n', 'prod')).toMatchObject({
      code: 0,
      out: 'networkpolicy prod/default-deny deleted',
    });
    expect(await cli('delete', 'default-deny', '-n', 'prod')).toMatchObject({
      code: 1,
      out: 'networkpolicy prod/default-deny not found',
    });
    expect((await cli('delete', '-f', join(dir, 'p.json'), '-n', 'dev')).out).toBe(
      'networkpolicy dev/egress-dns deleted',
    );
    expect((await cli('ls')).out).not.toContain('default-deny');
    writeFileSync(
      join(dir, 'bad.yaml'),
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {podSelector: {}, ingress: [{ports: [{port: http}]}]}\n',
    );
    expect(await cli('apply', '-f', join(dir, 'bad.yaml'))).toMatchObject({
      code: 1,
      err: expect.stringMatching(
        /^tscni policy apply: spec.ingress\[0\].ports\[0\].port: named ports are not supported/,
      ),
    });
    expect(await cli('frobnicate')).toMatchObject({
      code: 1,
      err: expect.stringContaining('policy needs one of apply, delete, ls, explain, namespace'),
    });
  });
});
