/** Test certificates made with openssl: a self-signed one, or a private CA issuing server and client certificates. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `<name>.crt` and `<name>.key` into `dir` (CN and SAN for 127.0.0.1); returns their paths. */
export function selfSignedCert(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** A private CA in `dir` that issues certificates for 127.0.0.1 (server and client use). */
export interface TestCa {
  /** The CA certificate file. */
  ca: string;
  /** Writes `<name>.crt`/`<name>.key` signed by the CA, with CN `name`, SANs IP:127.0.0.1 and DNS:`name`. */
  issue(name: string): { cert: string; key: string };
}

/** Creates `ca.crt`/`ca.key` in `dir` with openssl. */
export function testCa(dir: string): TestCa {
  const ca = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  execFileSync(
    'openssl',
    ['req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '1', '-subj', '/CN=voidkey test CA'],
    {
      stdio: 'ignore',
    },
  );
  return {
    ca,
    issue(name) {
      const cert = join(dir, `${name}.crt`);
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const ext = join(dir, `${name}.ext`);
      execFileSync('openssl', ['req', '-new', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`], {
        stdio: 'ignore',
      });
      writeFileSync(ext, `subjectAltName=IP:127.0.0.1,DNS:${name}\nextendedKeyUsage=serverAuth,clientAuth\n`);
      execFileSync(
        'openssl',
        [
          'x509',
          '-req',
          '-in',
          csr,
          '-CA',
          ca,
          '-CAkey',
          caKey,
          '-CAcreateserial',
          '-days',
          '1',
          '-out',
          cert,
          '-extfile',
          ext,
        ],
        { stdio: 'ignore' },
      );
      return { cert, key };
    },
  };
}
