/**
 * Property tests: for every structure, decode(encode(x)) equals x and re-encoding the decoded value gives
 * the same bytes. Generators live in test/support/wire-arbitraries.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as W from '../../../../../src-main/reload/wire';
import { readSipRegistration, writeSipRegistration } from '../../../../../src-main/sip/sip-registration';
import * as A from '../../../../support/wire-arbitraries';

const N = A.NODE_ID_LENGTH;
const ctx = W.decodeContext();

function roundTrip<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  write: (w: W.Writer, v: T) => void,
  read: (r: W.Reader) => T,
  runs = 200,
) {
  it(name, () => {
    fc.assert(
      fc.property(arb, (value) => {
        const bytes = W.encodeWith(write, value);
        const r = new W.Reader(bytes, W.decodeContext({ maxMessageSize: 1 << 20 }));
        const decoded = read(r);
        r.done(name);
        expect(decoded).toEqual(value);
        expect(W.encodeWith(write, decoded)).toEqual(bytes);
      }),
      { numRuns: runs },
    );
  });
}

describe('round trips of every structure', () => {
  roundTrip('Destination', A.destination, (w, d) => W.writeDestination(w, d, N), W.readDestination);
  roundTrip('IpAddressPort', A.ipAddressPort, W.writeIpAddressPort, W.readIpAddressPort);
  roundTrip('IceCandidate', A.iceCandidate, W.writeIceCandidate, W.readIceCandidate);
  roundTrip('AttachReqAns', A.attachReqAns, W.writeAttachReqAns, W.readAttachReqAns);
  roundTrip('AppAttachReqAns', A.appAttachReqAns, W.writeAppAttachReqAns, W.readAppAttachReqAns);
  roundTrip('MessageContents', A.messageContents, W.writeMessageContents, W.readMessageContents);
  roundTrip('SignerIdentity', A.signerIdentity, W.writeSignerIdentity, W.readSignerIdentity);
  roundTrip('Signature', A.signature, W.writeSignature, W.readSignature);
  roundTrip('SecurityBlock', A.securityBlock, W.writeSecurityBlock, W.readSecurityBlock);
  roundTrip('StoreReq', A.storeReq, W.writeStoreReq, W.readStoreReq);
  roundTrip('StoreAns', A.storeAns, (w, v) => W.writeStoreAns(w, v, N), W.readStoreAns);
  roundTrip('StoredDataSpecifier', A.storedDataSpecifier, W.writeStoredDataSpecifier, W.readStoredDataSpecifier);
  roundTrip('FetchReq', A.fetchReq, W.writeFetchReq, W.readFetchReq);
  roundTrip('FetchAns', A.fetchAns, W.writeFetchAns, W.readFetchAns);
  roundTrip('StatAns', A.statAns, W.writeStatAns, W.readStatAns);
  roundTrip('FindReq', A.findReq, W.writeFindReq, W.readFindReq);
  roundTrip('FindAns', A.findAns, W.writeFindAns, W.readFindAns);
  roundTrip('ChordUpdate', A.chordUpdate, (w, v) => W.writeChordUpdate(w, v, N), W.readChordUpdate);
  roundTrip('ChordLeaveData', A.chordLeaveData, (w, v) => W.writeChordLeaveData(w, v, N), W.readChordLeaveData);
  roundTrip('DiagnosticsRequest', A.diagnosticsRequest, W.writeDiagnosticsRequest, W.readDiagnosticsRequest);
  roundTrip('DiagnosticsResponse', A.diagnosticsResponse, W.writeDiagnosticsResponse, W.readDiagnosticsResponse);
  roundTrip(
    'SelfTuningData',
    fc.record({ networkSize: A.u32, joinRate: A.u32, leaveRate: A.u32 }),
    W.writeSelfTuningData,
    W.readSelfTuningData,
  );
  roundTrip(
    'ExtensiveRoutingModeOption',
    fc.record({
      routeMode: A.u8,
      transport: A.u8,
      ipAddressPort: A.ipAddressPort,
      destinations: fc.array(A.destination, { minLength: 1, maxLength: 3 }),
    }),
    (w, v) => W.writeExtensiveRoutingModeOption(w, v, N),
    W.readExtensiveRoutingModeOption,
  );
  roundTrip(
    'TurnServer',
    fc.record({ iteration: A.u8, serverAddress: A.ipAddressPort }),
    W.writeTurnServer,
    W.readTurnServer,
  );
  roundTrip('FramedMessage', A.framedMessage, W.writeFramedMessage, W.readFramedMessage);
  roundTrip(
    'ErrorResponse',
    fc.record({ errorCode: fc.integer({ min: 1, max: 0xffff }), errorInfo: A.bytes(30) }),
    W.writeErrorResponse,
    W.readErrorResponse,
  );
  roundTrip('unknown_kinds error_info', fc.array(A.kindId, { maxLength: 10 }), W.writeUnknownKinds, W.readUnknownKinds);
  roundTrip('SipRegistration', A.sipRegistration, (w, v) => writeSipRegistration(w, v, N), readSipRegistration);

  it('every method body, through the body table', () => {
    fc.assert(
      fc.property(A.body, (body) => {
        const { code, bytes } = W.encodeBody(body, N);
        const decoded = W.decodeBody(code, bytes, W.decodeContext({ maxMessageSize: 1 << 20 }));
        expect(decoded).toEqual(body);
        expect(W.encodeBody(decoded, N).bytes).toEqual(bytes);
        // Encoding the body straight into MessageContents gives the same bytes as encoding it apart.
        expect(W.encodeMessageContents({ body, extensions: [] }, N)).toEqual(
          W.encodeMessageContents({ code, body: bytes, extensions: [] }),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('whole messages: header, contents and security block, with the length computed', () => {
    fc.assert(
      fc.property(A.forwardingHeader, A.messageContents, A.securityBlock, (header, contents, security) => {
        const bytes = W.encodeMessage({ header, contents, security }, { nodeIdLength: N });
        const decoded = W.decodeMessage(bytes, W.decodeContext({ maxMessageSize: 1 << 20 }));
        expect(decoded.header).toEqual({ ...header, length: bytes.length });
        expect(decoded.contents).toEqual(contents);
        expect(decoded.security).toEqual(security);
        expect(W.encodeMessage(decoded, { nodeIdLength: N })).toEqual(bytes);
        // The signed regions are exactly the encodings of contents and signer identity.
        expect(decoded.signed.contents).toEqual(W.encodeMessageContents(contents));
        expect(decoded.signed.signerIdentity).toEqual(W.encodeWith(W.writeSignerIdentity, security.signature.identity));
      }),
      { numRuns: 300 },
    );
  });

  it('RELOAD URIs', () => {
    fc.assert(
      fc.property(
        fc.array(A.destination, { minLength: 1, maxLength: 3 }),
        fc.option(A.storedDataSpecifier, { nil: undefined }),
        (destinations, specifier) => {
          const uri: W.ReloadUri = {
            destinations,
            overlay: 'overlay.example.org',
            ...(specifier ? { specifier } : {}),
          };
          const text = W.formatReloadUri(uri, N);
          expect(W.parseReloadUri(text, ctx)).toEqual(uri);
        },
      ),
    );
  });
});
