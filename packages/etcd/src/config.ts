/**
 * Where etcd is and how to prove who we are: the endpoints and etcdctl's/flanneld's TLS files (a CA to trust
 * the members' server certificates, a client certificate and key for clusters run with --client-cert-auth).
 * Checked and read here once, so the agent, the CLI and the harness refuse bad settings with the same words.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

export interface EtcdConfig {
  /** http(s)://host:port, all with the same scheme. */
  endpoints: string[];
  /** PEM CA bundle for the members' server certificates (the system's CAs when absent). */
  cafile?: string;
  /** PEM client certificate (and its key) for a cluster that checks client certificates. */
  certfile?: string;
  keyfile?: string;
  username?: string;
  password?: string;
}

/** How the program spells its flags: '-' for flanneld's `-etcd-cafile`, '--' for `--etcd-cafile`. */
export type FlagDash = '-' | '--';

export class EtcdConfigError extends Error {
  override name = 'EtcdConfigError';
}

const ENDPOINT = /^https?:\/\/[^\s/]+\/?$/;

/** What is wrong with the settings (empty when fine); no file is read. */
export function etcdConfigProblems(c: EtcdConfig, dash: FlagDash = '--'): string[] {
  const problems: string[] = [];
  if (!c.endpoints.length) problems.push(`${dash}etcd-endpoints is empty`);
  for (const e of c.endpoints)
    if (!ENDPOINT.test(e)) problems.push(`${dash}etcd-endpoints: ${JSON.stringify(e)} is not http(s)://host:port`);
  const https = c.endpoints.filter((e) => e.startsWith('https://')).length;
  if (https && https < c.endpoints.length) problems.push(`${dash}etcd-endpoints mixes http:// and https:// endpoints`);
  if ((c.certfile === undefined) !== (c.keyfile === undefined))
    problems.push(`${dash}etcd-certfile and ${dash}etcd-keyfile go together`);
  const tlsFlags = (['cafile', 'certfile', 'keyfile'] as const).filter((k) => c[k] !== undefined);
  if (tlsFlags.length && c.endpoints.length && !https && c.endpoints.every((e) => ENDPOINT.test(e))) {
    problems.push(
      `${tlsFlags.map((k) => `${dash}etcd-${k}`).join(', ')} ${tlsFlags.length > 1 ? 'need' : 'needs'} https:// endpoints (${dash}etcd-endpoints is ${c.endpoints.join(',')})`,
    );
  }
  for (const k of tlsFlags) if (!c[k]) problems.push(`${dash}etcd-${k} is empty`);
  return problems;
}

/** The PEM contents grpc wants, read and checked; each failure names the flag, the file and what is wrong. */
export interface EtcdTls {
  rootCertificate?: Buffer;
  certChain?: Buffer;
  privateKey?: Buffer;
}

export function readEtcdTls(c: EtcdConfig, dash: FlagDash = '--'): EtcdTls | undefined {
  const problems = etcdConfigProblems(c, dash);
  if (problems.length) throw new EtcdConfigError(problems.join('; '));
  if (!c.endpoints.some((e) => e.startsWith('https://'))) return undefined;
  const tls: EtcdTls = {};
  if (c.cafile) tls.rootCertificate = readPem(`${dash}etcd-cafile`, c.cafile, certificate);
  if (c.certfile && c.keyfile) {
    tls.certChain = readPem(`${dash}etcd-certfile`, c.certfile, certificate);
    tls.privateKey = readPem(`${dash}etcd-keyfile`, c.keyfile, (pem) => void createPrivateKey(pem));
    const cert = new X509Certificate(tls.certChain);
    if (!cert.checkPrivateKey(createPrivateKey(tls.privateKey))) {
      throw new EtcdConfigError(
        `${dash}etcd-keyfile ${c.keyfile} is not the key of ${dash}etcd-certfile ${c.certfile}`,
      );
    }
    if (cert.validTo && Date.parse(cert.validTo) < Date.now())
      throw new EtcdConfigError(`${dash}etcd-certfile ${c.certfile} expired on ${cert.validTo}`);
  }
  return tls;
}

const certificate = (pem: Buffer) => void new X509Certificate(pem);

function readPem(flag: string, file: string, parse: (pem: Buffer) => void): Buffer {
  let pem: Buffer;
  try {
    if (!statSync(file).isFile()) throw new EtcdConfigError(`${flag} ${file} is not a file`);
    pem = readFileSync(file);
  } catch (err) {
    if (err instanceof EtcdConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new EtcdConfigError(`${flag} ${file}: ${why}`);
  }
  try {
    parse(pem);
  } catch (err) {
    throw new EtcdConfigError(
      `${flag} ${file} is not a PEM ${flag.endsWith('keyfile') ? 'private key' : 'certificate'} (${(err as Error).message})`,
    );
  }
  return pem;
}
