// TLS material for serving HTTPS on the LAN.
// Phones only get a secure context (service worker, crossOriginIsolated, WebGPU) over HTTPS when
// they reach the server by LAN address, so without a user-supplied certificate we make a
// self-signed one covering localhost and every LAN IPv4, and keep it so each phone only has to
// accept the browser warning once.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import selfsigned from 'selfsigned';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint, colon-separated hex, as browsers show it. */
  fingerprint256: string;
  /** True when this call created the certificate; false when it reused or loaded one. */
  generated: boolean;
}

/** Names the certificate must cover. */
export interface CertificateNames {
  dnsNames: string[];
  ips: string[];
}

const CERT_FILE = 'cert.pem';
const KEY_FILE = 'key.pem';
const VALIDITY_DAYS = 365;
/** Regenerate a little before expiry so a session never starts on a certificate about to lapse. */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

/** Reads a user-supplied certificate and key, checking they belong together. */
export async function loadUserCertificate(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([
    readFile(certFile, 'utf8').catch((e: unknown) => {
      throw new Error(`cannot read certificate file ${certFile}: ${String(e)}`);
    }),
    readFile(keyFile, 'utf8').catch((e: unknown) => {
      throw new Error(`cannot read key file ${keyFile}: ${String(e)}`);
    }),
  ]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`${certFile} is not a PEM certificate: ${String(e)}`);
  }
  if (!keyMatches(x509, key)) throw new Error(`key ${keyFile} does not match certificate ${certFile}`);
  return { cert, key, fingerprint256: x509.fingerprint256, generated: false };
}

/**
 * Returns the certificate kept in `certDir` if it is still valid and covers `names`; otherwise
 * generates a new one (for exactly `names`) and stores it there.
 */
export async function loadOrCreateCertificate(
  certDir: string,
  names: CertificateNames,
  now: Date = new Date(),
): Promise<TlsMaterial> {
  const certPath = path.join(certDir, CERT_FILE);
  const keyPath = path.join(certDir, KEY_FILE);
  const existing = await readPair(certPath, keyPath);
  if (existing) {
    const x509 = parseCertificate(existing.cert);
    if (x509 && keyMatches(x509, existing.key) && stillUsable(x509, names, now)) {
      return { ...existing, fingerprint256: x509.fingerprint256, generated: false };
    }
  }

  const pems = await generateSelfSigned(names, now);
  await mkdir(certDir, { recursive: true });
  await writeAtomically(keyPath, pems.key, 0o600);
  await writeAtomically(certPath, pems.cert, 0o644);
  const x509 = new X509Certificate(pems.cert);
  return { ...pems, fingerprint256: x509.fingerprint256, generated: true };
}

/** The set of `DNS:` and `IP Address:` entries in a certificate's subjectAltName. */
export function subjectAltNames(x509: X509Certificate): Set<string> {
  return new Set((x509.subjectAltName ?? '').split(/,\s*/).filter((s) => s.length > 0));
}

function stillUsable(x509: X509Certificate, names: CertificateNames, now: Date): boolean {
  const validTo = Date.parse(x509.validTo);
  const validFrom = Date.parse(x509.validFrom);
  if (!(validTo - now.getTime() > RENEW_BEFORE_MS) || validFrom > now.getTime()) return false;
  const sans = subjectAltNames(x509);
  return (
    names.dnsNames.every((d) => sans.has(`DNS:${d}`)) && names.ips.every((ip) => sans.has(`IP Address:${ip}`))
  );
}

async function generateSelfSigned(
  names: CertificateNames,
  now: Date,
): Promise<{ cert: string; key: string }> {
  const notAfter = new Date(now.getTime() + VALIDITY_DAYS * 24 * 3600 * 1000);
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'Chorus local server' }], {
    keyType: 'rsa', // widest client support; generated once and kept, so its cost does not matter
    keySize: 2048,
    algorithm: 'sha256', // the library default (sha1) is rejected by browsers
    notBeforeDate: new Date(now.getTime() - 60_000), // tolerate small clock skew on phones
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...names.dnsNames.map((value) => ({ type: 2 as const, value })),
          ...names.ips.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

async function readPair(
  certPath: string,
  keyPath: string,
): Promise<{ cert: string; key: string } | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    return { cert, key };
  } catch {
    return undefined; // missing or unreadable: make a new pair
  }
}

function parseCertificate(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function keyMatches(x509: X509Certificate, keyPem: string): boolean {
  try {
    return x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

// Write-then-rename so an interrupted start never leaves half a PEM that the next start trips on.
async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, file);
}
