/**
 * Public keys of certificates, parsed once: X.509 parsing costs far more than a verification, and the same
 * few certificates sign most messages a node sees. Bounded LRU keyed by the certificate's SHA-256.
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';

export class CertificateParseError extends Error {
  constructor(reason: string) {
    super(`not a usable X.509 certificate: ${reason}`);
    this.name = 'CertificateParseError';
  }
}

export class KeyCache {
  private readonly entries = new Map<string, KeyObject>();

  constructor(private readonly capacity = 1024) {}

  get size(): number {
    return this.entries.size;
  }

  publicKeyOf(certificateDer: Uint8Array): KeyObject {
    const id = createHash('sha256').update(certificateDer).digest('base64');
    const hit = this.entries.get(id);
    if (hit) {
      // Refresh its position so the least recently used entry is evicted first.
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    let key: KeyObject;
    try {
      key = new X509Certificate(certificateDer).publicKey;
    } catch (error) {
      throw new CertificateParseError((error as Error).message);
    }
    this.entries.set(id, key);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return key;
  }
}
