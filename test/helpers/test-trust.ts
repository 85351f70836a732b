import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { secretHash } from '../../src/shared/bearer.js';
import { controlPlaneKey, type Authenticate } from '../../src/shared/cluster-api.js';
import type { InternalCredential } from '../../src/shared/internal-client.js';
import { CONTROL_PLANE_NAME, createCertificateAuthority, issueServerIdentity, workerServerName, type CertificateAuthority, type TlsIdentity } from '../../src/shared/tls.js';

/** A cluster's trust in miniature, for in-process tests: a CA, a control-plane credential and server identities it issued. */
export interface TestTrust {
  ca: CertificateAuthority;
  /** What a control-plane process presents (and trusts). */
  controlPlane: InternalCredential;
  /** What a worker or the assignment API checks a control-plane call with. */
  authenticate: Authenticate;
  controlPlaneIdentity(): TlsIdentity;
  workerIdentity(workerId: string): TlsIdentity;
}

export function testTrust(): TestTrust {
  const now = Date.now();
  const ca = createCertificateAuthority(now);
  const key = randomBytes(32).toString('base64url');
  return {
    ca,
    controlPlane: { authorization: `Bearer ${key}`, ca: ca.certPem },
    authenticate: controlPlaneKey(secretHash(key)),
    controlPlaneIdentity: () => issueServerIdentity(ca, CONTROL_PLANE_NAME, now),
    workerIdentity: (workerId) => issueServerIdentity(ca, workerServerName(workerId), now),
  };
}

/**
 * A plain-HTTP request to an internal port that serves TLS only (`url` may say https:): resolves
 * the connection error it ends in (ECONNRESET: the server reset a client that spoke no TLS), or
 * `answered <status>` if something answered in plain HTTP.
 */
export function plainHttpAttempt(url: string, authorization: string): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest(url.replace(/^https:/, 'http:'), { method: 'GET', headers: { authorization }, timeout: 5000 }, (res) => {
      res.resume();
      resolve(`answered ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}
