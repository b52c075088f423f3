/**
 * One signed message of every method, with realistic bodies (real certificates, a real SipRegistration,
 * ICE candidates), built with the codec — what the Wireshark oracle is shown.
 */
import { createSigner, resourceIdFor, signMessage, signStoredData, type Signer } from '../../../src-main/reload/crypto';
import * as W from '../../../src-main/reload/wire';
import { encodeSipRegistration } from '../../../src-main/sip/sip-registration';
import { makeIdentity, nodeIdOf } from '../../support/certs';

export interface Sample {
  method: W.Method;
  bytes: Uint8Array;
  transactionId: bigint;
  /** Node-IDs of node destinations in via list then destination list, in order. */
  nodeIds: string[];
  /** Kind-IDs the body names, in order of appearance. */
  kinds: number[];
}

const utf8 = new TextEncoder();
const ip4 = (a: number, b: number, c: number, d: number, port: number): W.IpAddressPort => ({
  family: 4,
  address: Uint8Array.of(a, b, c, d),
  port,
});

export async function sampleMessages(): Promise<Sample[]> {
  const id = await makeIdentity('ecdsa', [nodeIdOf(1)], 'alice@overlay.example.org');
  const signer = createSigner({ privateKey: id.privateKey, certificate: id.certificate });
  const me = nodeIdOf(1);
  const peer = nodeIdOf(2);
  const third = nodeIdOf(3);
  const resource = resourceIdFor('alice@overlay.example.org');
  const registration = encodeSipRegistration(
    { type: 'route', contactPrefs: utf8.encode('(sip.schemes=SIP)'), destinations: [{ type: 'node', id: me }] },
    16,
  );
  const stored = signStoredData(
    resource,
    W.KindId.SIP_REGISTRATION,
    {
      storageTime: 1_795_000_000_000n,
      lifetime: 3600,
      value: { model: 'dictionary', key: me, value: { exists: true, value: registration } },
    },
    signer,
  );
  const certValue = signStoredData(
    resourceIdFor(me),
    W.KindId.CERTIFICATE_BY_NODE,
    {
      storageTime: 1_795_000_000_001n,
      lifetime: 86400,
      value: { model: 'array', index: 0xffffffff, value: { exists: true, value: id.certificate } },
    },
    signer,
  );
  const candidates: W.IceCandidate[] = [
    {
      addrPort: ip4(127, 0, 0, 1, 40000),
      overlayLink: 1,
      foundation: utf8.encode('1'),
      priority: 2130706431,
      type: 'host',
      extensions: [],
    },
    {
      addrPort: ip4(198, 51, 100, 7, 50000),
      overlayLink: 1,
      foundation: utf8.encode('2'),
      priority: 1694498815,
      type: 'srflx',
      relAddrPort: ip4(127, 0, 0, 1, 40000),
      extensions: [],
    },
  ];
  const attach: W.AttachReqAns = {
    ufrag: utf8.encode('ufrg'),
    password: utf8.encode('a-very-secret-password'),
    role: utf8.encode('passive'),
    candidates,
    sendUpdate: true,
  };
  const appAttach: W.AppAttachReqAns = {
    ufrag: utf8.encode('ufrg'),
    password: utf8.encode('a-very-secret-password'),
    application: 5060,
    role: utf8.encode('passive'),
    candidates,
  };
  const dictSpec: W.StoredDataSpecifier = {
    kind: W.KindId.SIP_REGISTRATION,
    generation: 0n,
    specifier: { model: 'dictionary', keys: [] },
  };
  const metadata: W.StoredMetaData = {
    storageTime: 1_795_000_000_000n,
    lifetime: 3600,
    metadata: {
      model: 'dictionary',
      key: me,
      value: {
        exists: true,
        valueLength: registration.length + 4,
        hashAlgorithm: 4,
        hashValue: new Uint8Array(32).fill(1),
      },
    },
  };

  const bodies: { body: W.Body; kinds: number[] }[] = [
    { body: { method: 'probe_req', value: { requestedInfo: [1, 2, 3] } }, kinds: [] },
    {
      body: {
        method: 'probe_ans',
        value: {
          probeInfo: [
            { type: 'responsible_set', value: 250_000_000 },
            { type: 'num_resources', value: 12 },
            { type: 'uptime', value: 3600 },
          ],
        },
      },
      kinds: [],
    },
    { body: { method: 'attach_req', value: attach }, kinds: [] },
    { body: { method: 'attach_ans', value: { ...attach, role: utf8.encode('active') } }, kinds: [] },
    {
      body: {
        method: 'store_req',
        value: {
          resource,
          replicaNumber: 0,
          kindData: [
            { kind: 1, generationCounter: 0n, values: [stored] },
            { kind: 3, generationCounter: 0n, values: [certValue] },
          ],
        },
      },
      kinds: [1, 3],
    },
    {
      body: {
        method: 'store_ans',
        value: { kindResponses: [{ kind: 1, generationCounter: 7n, replicas: [peer, third] }] },
      },
      kinds: [1],
    },
    { body: { method: 'fetch_req', value: { resource, specifiers: [dictSpec] } }, kinds: [1] },
    {
      // The second value is one a storing peer synthesizes (exists = false, SignerIdentity none).
      body: {
        method: 'fetch_ans',
        value: {
          kindResponses: [
            {
              kind: 1,
              generation: 7n,
              values: [
                stored,
                {
                  storageTime: 0n,
                  lifetime: 0,
                  value: { model: 'dictionary', key: peer, value: { exists: false, value: new Uint8Array() } },
                  signature: W.NO_SIGNATURE,
                },
              ],
            },
          ],
        },
      },
      kinds: [1],
    },
    { body: { method: 'stat_req', value: { resource, specifiers: [dictSpec] } }, kinds: [1] },
    {
      body: { method: 'stat_ans', value: { kindResponses: [{ kind: 1, generation: 7n, values: [metadata] }] } },
      kinds: [1],
    },
    { body: { method: 'find_req', value: { resource, kinds: [1, 2] } }, kinds: [1, 2] },
    { body: { method: 'find_ans', value: { results: [{ kind: 1, closest: resource }] } }, kinds: [1] },
    { body: { method: 'join_req', value: { joiningPeerId: me, overlaySpecificData: new Uint8Array() } }, kinds: [] },
    { body: { method: 'join_ans', value: { overlaySpecificData: new Uint8Array() } }, kinds: [] },
    {
      body: {
        method: 'leave_req',
        value: {
          leavingPeerId: me,
          overlaySpecificData: W.encodeWith((w, v: W.ChordLeaveData) => W.writeChordLeaveData(w, v, 16), {
            type: 'from_succ',
            successors: [peer, third],
          }),
        },
      },
      kinds: [],
    },
    { body: { method: 'leave_ans', value: {} }, kinds: [] },
    {
      body: {
        method: 'update_req',
        value: { uptime: 60, type: 'full', predecessors: [third], successors: [peer], fingers: [peer, third] },
      },
      kinds: [],
    },
    { body: { method: 'update_ans', value: {} }, kinds: [] },
    {
      body: {
        method: 'route_query_req',
        value: { sendUpdate: false, destination: { type: 'node', id: peer }, overlaySpecificData: new Uint8Array() },
      },
      kinds: [],
    },
    { body: { method: 'route_query_ans', value: { nextPeer: peer } }, kinds: [] },
    { body: { method: 'ping_req', value: { padding: new Uint8Array(16) } }, kinds: [] },
    { body: { method: 'ping_ans', value: { responseId: 0x0102030405060708n, time: 1_795_000_000_000n } }, kinds: [] },
    { body: { method: 'app_attach_req', value: appAttach }, kinds: [] },
    { body: { method: 'app_attach_ans', value: { ...appAttach, role: utf8.encode('active') } }, kinds: [] },
    {
      body: {
        method: 'config_update_req',
        value: { type: 'config', configData: utf8.encode('<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"/>') },
      },
      kinds: [],
    },
    { body: { method: 'config_update_ans', value: {} }, kinds: [] },
    {
      body: {
        method: 'path_track_req',
        value: {
          destination: { type: 'node', id: third },
          request: {
            expiration: 1_795_000_060_000n,
            timestampInitiated: 1_795_000_000_000n,
            dMFlags: 0x6n,
            extensions: [],
          },
        },
      },
      kinds: [],
    },
    {
      body: {
        method: 'path_track_ans',
        value: {
          nextHop: { type: 'node', id: peer },
          response: {
            expiration: 1_795_000_060_000n,
            timestampInitiated: 1_795_000_000_000n,
            timestampReceived: 1_795_000_000_005n,
            hopCounter: 98,
            info: [{ kind: 2, contents: Uint8Array.of(0, 0, 0, 5) }],
          },
        },
      },
      kinds: [],
    },
    {
      body: {
        method: 'error',
        value: { errorCode: W.ErrorCode.Forbidden, errorInfo: utf8.encode('signature does not verify') },
      },
      kinds: [],
    },
  ];

  return bodies.map(({ body, kinds }, i) => build(body, kinds, i, signer, me, peer));
}

function build(body: W.Body, kinds: number[], i: number, signer: Signer, me: Uint8Array, peer: Uint8Array): Sample {
  const { code, bytes: encoded } = W.encodeBody(body, 16);
  const transactionId = 0x5eed000000000000n + BigInt(i);
  const header: W.HeaderInput = {
    overlay: 0x9aa32b8d,
    configurationSequence: 3,
    version: 0x0a,
    ttl: 100 - (i % 5),
    transactionId,
    maxResponseLength: 0,
    viaList: i % 2 ? [{ type: 'node', id: me }] : [],
    destinationList: [{ type: 'node', id: peer }],
    options: [],
  };
  const bytes = signMessage(header, { code, body: encoded, extensions: [] }, signer, { nodeIdLength: 16 });
  const nodeIds = [...header.viaList, ...header.destinationList].flatMap((d) =>
    d.type === 'node' ? [W.toHex(d.id)] : [],
  );
  return { method: body.method, bytes, transactionId, nodeIds, kinds };
}
