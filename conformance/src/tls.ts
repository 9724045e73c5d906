/**
 * The HTTPS certificate of the conformance server: self-signed, made at start.
 * @module
 */
import { generate } from 'selfsigned';

/** A private key and its certificate, both PEM. */
export interface Certificate {
  readonly key: string;
  readonly cert: string;
}

/**
 * A self-signed certificate for `localhost`, `127.0.0.1` and `::1` (an EC P-256 key, SHA-256,
 * valid from an hour ago for 30 days). Clients trust it explicitly: Node with
 * `NODE_EXTRA_CA_CERTS=<the PEM>`, Chromium with `--ignore-certificate-errors`.
 */
export async function selfSignedCertificate(): Promise<Certificate> {
  const notBeforeDate = new Date(Date.now() - 3_600_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + 30 * 24 * 3_600_000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
