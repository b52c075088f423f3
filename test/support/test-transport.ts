/**
 * The MessageTransport the loopback and memory-network tests build: a test node signing with its own key
 * (unless the test hands it another signer) under the test CA's trust policy, configuration sequence 1,
 * TTL 100, messages up to 5000 bytes, 16-byte Node-IDs. Each test gives what it is about.
 */
import type { VirtualClock } from '../../src-main/reload/clock';
import { createSigner } from '../../src-main/reload/crypto';
import type { TrustPolicy } from '../../src-main/reload/identity';
import { MessageTransport, type TransportOptions } from '../../src-main/reload/transport';
import type { TestNode } from './node-identities';

type Given = Pick<TransportOptions, 'overlay' | 'reliabilityTimerMs' | 'topology' | 'clock' | 'log'> &
  Partial<TransportOptions>;

export function testTransport(node: TestNode, policy: TrustPolicy, options: Given): MessageTransport {
  return new MessageTransport({
    nodeId: node.nodeId,
    configSequence: 1,
    initialTtl: 100,
    maxMessageSize: 5000,
    nodeIdLength: 16,
    policy,
    ...options,
    // Made only when not given: a test may sign with a key createSigner refuses.
    signer: options.signer ?? createSigner({ privateKey: node.privateKey, certificate: node.certificate }),
  });
}

/**
 * Advances `clock` 10 ms at a time, letting I/O callbacks run after each step, for `ms` or until `done()`.
 */
export async function advance(clock: VirtualClock, ms: number, done: () => boolean = () => false): Promise<void> {
  for (let t = 0; t < ms && !done(); t += 10) {
    clock.advance(10);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Advances `clock` until `promise` settles or `ms` have passed, and returns the promise. */
export async function settle<T>(clock: VirtualClock, promise: Promise<T>, ms: number): Promise<T> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await advance(clock, ms, () => done);
  return promise;
}
