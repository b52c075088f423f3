/**
 * Attach without ICE over real TLS links: A reaches C through B, C answers and connects back to A's
 * passive candidate (so A, the requester, is the TLS server), and A then talks to C directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src-main/common/logger';
import { realClock } from '../../src-main/reload/clock';
import { createSigner } from '../../src-main/reload/crypto';
import { TlsEndpoint } from '../../src-main/reload/link/tls/tls-endpoint';
import {
  answerPing,
  AttachService,
  ErrorResponseError,
  MessageTransport,
  RequestRouter,
  StaticTopology,
} from '../../src-main/reload/transport';
import { bytesEqual, ErrorCode, toHex } from '../../src-main/reload/wire';
import { makeNodes, type TestNodes } from '../support/node-identities';

let ids: TestNodes;
const endpoints: TlsEndpoint[] = [];
const transports: MessageTransport[] = [];
const attach: AttachService[] = [];

beforeAll(async () => {
  ids = await makeNodes(3);
  const index = (id: Uint8Array) => ids.nodes.findIndex((n) => bytesEqual(n.nodeId, id));
  for (const [i, n] of ids.nodes.entries()) {
    const endpoint = await TlsEndpoint.listen({
      privateKey: n.privateKey,
      certificates: [n.certificate],
      policy: ids.policy,
    });
    const transport = new MessageTransport({
      nodeId: n.nodeId,
      overlay: 5,
      configSequence: 1,
      initialTtl: 100,
      reliabilityTimerMs: 1000,
      maxMessageSize: 5000,
      nodeIdLength: 16,
      signer: createSigner({ privateKey: n.privateKey, certificate: n.certificate }),
      policy: ids.policy,
      // A and C know only B; B knows both.
      topology: new StaticTopology(
        (id) => bytesEqual(id, n.nodeId),
        (id) => (i === 1 ? (index(id) >= 0 ? id : undefined) : ids.nodes[1]!.nodeId),
      ),
      clock: realClock,
      log: createLogger({ level: 'warn' }),
    });
    const router = new RequestRouter(transport);
    router.on('ping_req', () => answerPing());
    attach.push(new AttachService({ transport, router, endpoint, nodeId: n.nodeId, clock: realClock }));
    endpoints.push(endpoint);
    transports.push(transport);
  }
  // Bootstrap: A and C each connect to B directly.
  transports[0]!.addLink(await endpoints[0]!.connect(endpoints[1]!.address, ids.nodes[1]!.nodeId));
  transports[2]!.addLink(await endpoints[2]!.connect(endpoints[1]!.address, ids.nodes[1]!.nodeId));
  await new Promise((r) => setTimeout(r, 50));
}, 60_000);

afterAll(async () => {
  await Promise.all(endpoints.map((e) => e.close()));
});

describe('Attach (No-ICE, TLS-TCP-FH-NO-ICE)', () => {
  it('builds a direct link to the target, with the target as TLS client', async () => {
    const c = ids.nodes[2]!.nodeId;
    expect(transports[0]!.linkTo(c)).toBeUndefined();
    const link = await attach[0]!.attach({ type: 'node', id: c });
    expect(toHex(link.peer.nodeIds[0]!)).toBe(toHex(c));
    expect(transports[0]!.linkTo(c)).toBe(link);
    const forwardedBefore = transports[1]!.counters.forwarded;
    const { body } = await transports[0]!.request([{ type: 'node', id: c }], {
      method: 'ping_req',
      value: { padding: new Uint8Array(0) },
    });
    expect(body.method).toBe('ping_ans');
    expect(transports[1]!.counters.forwarded).toBe(forwardedBefore); // direct now, B not involved
    // A second Attach to the same node reuses the link.
    expect(await attach[0]!.attach({ type: 'node', id: c })).toBe(link);
  });

  it('answers an Attach without a usable candidate with Error_Incompatible_with_Overlay', async () => {
    const failure = await transports[0]!
      .request([{ type: 'node', id: ids.nodes[1]!.nodeId }], {
        method: 'attach_req',
        value: {
          ufrag: new Uint8Array(4),
          password: new Uint8Array(8),
          role: new TextEncoder().encode('passive'),
          candidates: [],
          sendUpdate: false,
        },
      })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ErrorResponseError);
    expect((failure as ErrorResponseError).errorCode).toBe(ErrorCode.Incompatible_with_Overlay);
  });
});
