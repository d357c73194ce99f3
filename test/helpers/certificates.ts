/**
 * Certificates a test makes for itself with the openssl command: a CA, a server certificate it
 * signed (for 127.0.0.1 and localhost) and a client certificate it signed, all P-256 and valid
 * for two days. Nothing leaves the temp directory it is given. Tests that need TLS skip, saying
 * so, when openssl is not installed (`opensslMissing()`).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { withTemporaryDirectory } from './temporary-directory.js';

const run = promisify(execFile);
/** One openssl run: key generation and signing take milliseconds; a stuck one is cut. */
const OPENSSL_TIMEOUT_MS = 30_000;

export interface TestCertificates {
  /** PEM text. */
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

// A whole configuration, so the machine's openssl.cnf cannot add or clash with extensions.
const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = weir-test
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
`;

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(directory: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: directory, timeout: OPENSSL_TIMEOUT_MS });
}

/** Why TLS tests cannot run here, or null when openssl is there. */
export async function opensslMissing(): Promise<string | null> {
  try {
    await run('openssl', ['version'], { timeout: OPENSSL_TIMEOUT_MS });
    return null;
  } catch (error) {
    return `openssl is not available (${(error as Error).message}): TLS tests skipped`;
  }
}

/**
 * Runs `body` with fresh certificates in a temporary directory (removed afterwards); without
 * openssl the test is skipped, saying why.
 */
export async function withCertificates(
  context: { skip(message?: string): void },
  body: (certificates: TestCertificates, directory: string) => Promise<void>,
): Promise<void> {
  const missing = await opensslMissing();
  if (missing !== null) {
    context.skip(missing);
    return;
  }
  await withTemporaryDirectory(async (directory) =>
    body(await makeCertificates(directory), directory),
  );
}

/** Makes the CA, server and client certificates in `directory`. */
export async function makeCertificates(directory: string): Promise<TestCertificates> {
  const config = join(directory, 'openssl.cnf');
  await writeFile(config, CONFIG);
  await openssl(directory, [
    'req', '-x509', '-config', config, '-extensions', 'ca', ...NEW_KEY,
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Weir test CA',
  ]); // prettier-ignore
  for (const [name, serial, commonName] of [
    ['server', '2', 'localhost'],
    ['client', '3', 'weir-test-client'],
  ] as const) {
    await openssl(directory, [
      'req', '-new', '-config', config, ...NEW_KEY,
      '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${commonName}`,
    ]); // prettier-ignore
    await openssl(directory, [
      'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key',
      '-set_serial', serial, '-days', '2', '-extfile', config, '-extensions', name,
      '-out', `${name}.crt`,
    ]); // prettier-ignore
  }
  const read = (file: string) => readFile(join(directory, file), 'utf8');
  return {
    caCert: await read('ca.crt'),
    serverCert: await read('server.crt'),
    serverKey: await read('server.key'),
    clientCert: await read('client.crt'),
    clientKey: await read('client.key'),
  };
}
