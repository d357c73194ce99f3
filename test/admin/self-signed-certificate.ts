/**
 * A certificate authority and a server certificate for 127.0.0.1 and localhost, made by the
 * test with openssl in a temporary directory (nothing is checked in), plus a client
 * certificate signed by the same authority. Null when openssl is absent (the test skips).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface TestCertificates {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

const OPENSSL_CANDIDATES = ['/usr/bin/openssl', '/usr/local/bin/openssl'];

export function opensslPath(): string | null {
  return OPENSSL_CANDIDATES.find((candidate) => existsSync(candidate)) ?? null;
}

export async function makeTestCertificates(directory: string): Promise<TestCertificates> {
  const openssl = opensslPath();
  if (openssl === null) throw new Error('openssl is absent');
  const file = (name: string) => path.join(directory, name);
  const run = (...args: string[]) =>
    execFileSync(openssl, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=weir test CA',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
  );
  await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const [name, subject, extension] of [
    ['server', '/CN=127.0.0.1', ['-extfile', file('server.ext')]],
    ['client', '/CN=weir test client', []],
  ] as const) {
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
    );
    run(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      file(`${name}.pem`),
      ...extension,
    );
  }
  const read = (name: string) => readFile(file(name), 'utf8');
  return {
    ca: await read('ca.pem'),
    cert: await read('server.pem'),
    key: await read('server.key'),
    clientCert: await read('client.pem'),
    clientKey: await read('client.key'),
  };
}
