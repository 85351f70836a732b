import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { StratusError } from './errors.js';

/**
 * The cluster's certificate authority and the certificates it issues (node-forge; RSA 2048,
 * SHA-256). A server is named by what it is, not by where it listens: every control-plane
 * process serves as `CONTROL_PLANE_NAME`, worker W as `workerServerName(W)`, and a client checks
 * that name (never the address), so one worker's certificate does not pass for another's or for
 * the control plane's. See docs/cluster-security.md.
 */
export interface CertificateAuthority {
  certPem: string;
  /** Held by control-plane processes only (in the journal); never sent to a worker. */
  keyPem: string;
}

/** A server's TLS identity: its private key and its certificate (PEM). */
export interface TlsIdentity {
  key: string;
  cert: string;
}

export const CONTROL_PLANE_NAME = 'control-plane.stratus.internal';

/** A worker id usable in a credential: one DNS label (lower case, digits, inner hyphens). */
export const WORKER_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function workerServerName(workerId: string): string {
  if (!WORKER_ID_PATTERN.test(workerId)) throw new StratusError('InvalidParameterValue', `worker id ${JSON.stringify(workerId)} is not one DNS label (a-z, 0-9, inner '-', at most 63)`);
  return `${workerId}.worker.stratus.internal`;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_VALIDITY_MS = 10 * 365 * DAY_MS;
const SERVER_VALIDITY_MS = 365 * DAY_MS;

/** A new RSA key pair (PEM), made by Node's native crypto. */
export function newKeyPair(): { keyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** A new self-signed CA for a cluster. */
export function createCertificateAuthority(nowMs: number): CertificateAuthority {
  const { keyPem, publicKeyPem } = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serialNumber();
  validity(cert, nowMs, CA_VALIDITY_MS);
  const subject = [{ name: 'commonName', value: 'Stratus cluster CA' }, { name: 'organizationName', value: `stratus-${randomBytes(6).toString('hex')}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A certificate signing request for `publicKeyPem`, signed with its key (the proof the requester holds it). */
export function createCsr(keyPem: string, publicKeyPem: string): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: 'stratus worker' }]);
  csr.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/** The public key (PEM) of a CSR whose signature is good; anything else in it is ignored. */
export function csrPublicKey(csrPem: string): string {
  let csr: ReturnType<typeof forge.pki.certificationRequestFromPem>;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch {
    throw new StratusError('InvalidRequestContent', 'the certificate signing request is not a PEM PKCS#10 request');
  }
  if (!csr.publicKey || !csr.verify()) throw new StratusError('InvalidRequestContent', 'the certificate signing request is not signed by its key');
  return forge.pki.publicKeyToPem(csr.publicKey);
}

/** A server certificate for `serverName` (its only name) on `publicKeyPem`, signed by the CA. */
export function issueServerCertificate(ca: CertificateAuthority, publicKeyPem: string, serverName: string, nowMs: number): string {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serialNumber();
  validity(cert, nowMs, SERVER_VALIDITY_MS);
  cert.setSubject([{ name: 'commonName', value: serverName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: serverName }] },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A fresh key and a certificate for `serverName` issued by `ca` (a control-plane process's own). */
export function issueServerIdentity(ca: CertificateAuthority, serverName: string, nowMs: number): TlsIdentity {
  const { keyPem, publicKeyPem } = newKeyPair();
  return { key: keyPem, cert: issueServerCertificate(ca, publicKeyPem, serverName, nowMs) };
}

function validity(cert: forge.pki.Certificate, nowMs: number, lifetimeMs: number): void {
  // A little back-dated: clocks of the machines of a cluster differ.
  cert.validity.notBefore = new Date(nowMs - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(nowMs + lifetimeMs);
}

/** A positive random serial (the high bit clear, so DER does not read it as negative). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}
