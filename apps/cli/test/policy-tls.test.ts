/**
 * `tscni policy` against an etcd that serves TLS only and checks client certificates (--client-cert-auth):
 * the right files work (flags or TSCNI_ETCD_*), and each wrong setting fails with one line that says what to fix.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests } from '@tscni/testing/node';
import { runCli } from '../src/cli';
import { LocalEtcd } from '@tscni/testing/etcd';

// The CLI bundle, whichever plugin build DIST_BIN points at (dist/bun/cni-bin has no ../bin).
const CLI = join(import.meta.dirname, '../../../dist/bin/tscni');
const missing = missingForKernelTests(['etcd', 'openssl']);

const POLICY =
  'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: deny-all, namespace: prod }\nspec: { podSelector: {} }\n';

describe.skipIf(!!missing)(`tscni policy over TLS${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let etcd: LocalEtcd;
  let dir: string;
  const cli = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['policy', ...argv],
      env,
      { out: (l) => void out.push(l), err: (l) => void err.push(l) },
      new AbortController().signal,
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const certs = () => [
    '--etcd-endpoints',
    etcd.endpoint,
    '--etcd-cafile',
    etcd.tls!.ca,
    '--etcd-certfile',
    etcd.tls!.cert,
    '--etcd-keyfile',
    etcd.tls!.key,
  ];

  beforeAll(async () => {
    etcd = await LocalEtcd.start({ tls: true });
    dir = mkdtempSync(join(tmpdir(), 'tscni-policy-tls-'));
    writeFileSync(join(dir, 'p.yaml'), POLICY);
  }, 30_000);
  afterAll(async () => {
    await etcd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('apply, ls and delete with --etcd-cafile/--etcd-certfile/--etcd-keyfile', async () => {
    expect(await cli(['apply', '-f', join(dir, 'p.yaml'), ...certs()])).toMatchObject({
      code: 0,
      out: 'networkpolicy prod/deny-all configured',
    });
    expect((await cli(['ls', ...certs()])).out).toMatch(/\nprod\s+deny-all\s+<all>\s+Ingress$/);
    expect(await cli(['delete', 'deny-all', '-n', 'prod', ...certs()])).toMatchObject({
      code: 0,
      out: 'networkpolicy prod/deny-all deleted',
    });
  });

  it('takes the endpoints and files from TSCNI_ETCD_ENDPOINTS/CAFILE/CERTFILE/KEYFILE', async () => {
    const env = {
      TSCNI_ETCD_ENDPOINTS: etcd.endpoint,
      TSCNI_ETCD_CAFILE: etcd.tls!.ca,
      TSCNI_ETCD_CERTFILE: etcd.tls!.cert,
      TSCNI_ETCD_KEYFILE: etcd.tls!.key,
    };
    expect(await cli(['apply', '-f', join(dir, 'p.yaml')], env)).toMatchObject({
      code: 0,
      out: 'networkpolicy prod/deny-all configured',
    });
    expect((await cli(['ls', '--json'], env)).out).toContain('"name":"deny-all"');
  });

  it('without a client certificate, or with one from another CA, etcd refuses it and the error says which flag to fix', async () => {
    const noCert = await cli(['ls', '--etcd-endpoints', etcd.endpoint, '--etcd-cafile', etcd.tls!.ca]);
    expect(noCert).toMatchObject({ code: 1, out: '' });
    expect(noCert.err).toBe(
      `tscni policy ls: etcd at ${etcd.endpoint} refused the client certificate (TLS alert "bad certificate"): etcd checks client certificates: give --etcd-certfile and --etcd-keyfile`,
    );
    const foreign = await cli([
      'apply',
      '-f',
      join(dir, 'p.yaml'),
      '--etcd-endpoints',
      etcd.endpoint,
      '--etcd-cafile',
      etcd.tls!.ca,
      '--etcd-certfile',
      etcd.foreign!.cert,
      '--etcd-keyfile',
      etcd.foreign!.key,
    ]);
    expect(foreign.code).toBe(1);
    expect(foreign.err).toBe(
      `tscni policy apply: etcd at ${etcd.endpoint} refused the client certificate (TLS alert "bad certificate"): --etcd-certfile ${etcd.foreign!.cert} is not signed by a CA that etcd trusts (its --trusted-ca-file)`,
    );
  });

  it("etcd's server certificate checked against --etcd-cafile; plain http to a TLS port is unreachable", async () => {
    const wrongCa = await cli(['ls', ...certs().slice(0, 2), '--etcd-cafile', etcd.foreign!.ca, ...certs().slice(4)]);
    expect(wrongCa.err).toBe(
      `tscni policy ls: etcd's server certificate at ${etcd.endpoint} is not trusted (unable to verify the first certificate): it is not signed by the CA in --etcd-cafile ${etcd.foreign!.ca}`,
    );
    const http = etcd.endpoint.replace('https:', 'http:');
    expect((await cli(['ls', '--etcd-endpoints', http])).err).toMatch(
      new RegExp(`^tscni policy ls: etcd unreachable at ${http}: .* \\(a TLS-only etcd needs https:// endpoints\\)$`),
    );
  });

  it('a missing, unreadable or mismatched file is refused before connecting', async () => {
    const [ep, ca, cert, key] = [etcd.endpoint, etcd.tls!.ca, etcd.tls!.cert, etcd.tls!.key];
    const err = async (...argv: string[]) => (await cli(['ls', ...argv])).err.replace(/^tscni policy ls: /, '');
    expect(await err('--etcd-endpoints', ep, '--etcd-cafile', join(dir, 'nope.crt'))).toBe(
      `--etcd-cafile ${join(dir, 'nope.crt')}: no such file`,
    );
    expect(await err('--etcd-endpoints', ep, '--etcd-cafile', ca, '--etcd-certfile', cert)).toBe(
      '--etcd-certfile and --etcd-keyfile go together',
    );
    expect(await err('--etcd-endpoints', ep, '--etcd-certfile', join(dir, 'p.yaml'), '--etcd-keyfile', key)).toMatch(
      new RegExp(`^--etcd-certfile ${join(dir, 'p.yaml')} is not a PEM certificate`),
    );
    expect(await err('--etcd-endpoints', ep, '--etcd-certfile', cert, '--etcd-keyfile', etcd.foreign!.key)).toBe(
      `--etcd-keyfile ${etcd.foreign!.key} is not the key of --etcd-certfile ${cert}`,
    );
    expect(await err('--etcd-endpoints', ep.replace('https:', 'http:'), '--etcd-cafile', ca)).toBe(
      `--etcd-cafile needs https:// endpoints (--etcd-endpoints is ${ep.replace('https:', 'http:')})`,
    );
  });

  it('the bundled tscni (protos beside it, client loaded only for policy) lists over TLS', () => {
    const r = spawnSync(CLI, ['policy', 'ls', ...certs()], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^NAMESPACE\s+NAME/);
  });
});
