/**
 * Glue between sip.js's transaction classes and this layer: a sip.js `Transport` over one SipTransport, a
 * quiet logger factory, and the request object a proxy hands to a client transaction.
 */
import { LoggerFactory, Levels, OutgoingRequestMessage, type Transport, type URI } from 'sip.js/lib/core/index.js';
import type { SipTransport } from '../transport/sip-transport';
import { render } from './sip-text';

export class SipJsTransport implements Transport {
  constructor(readonly flow: SipTransport) {}

  get protocol(): string {
    return this.flow.protocol;
  }

  send(message: string): Promise<void> {
    return this.flow.send(message);
  }
}

export function quietLoggerFactory(): LoggerFactory {
  const f = new LoggerFactory();
  f.builtinEnabled = false;
  f.level = Levels.error;
  return f;
}

export interface ForwardedRequestParts {
  readonly method: string;
  readonly ruri: URI;
  readonly fromUri: URI;
  readonly toUri: URI;
  readonly fromTag: string;
  readonly toTag: string | undefined;
  readonly callId: string;
  readonly cseq: number;
  /** Our Via branch (loop hash + unique part), decided by the proxy, not by sip.js. */
  readonly branch: string;
  /** The sent-by of our Via. */
  readonly sentBy: string;
  /** Raw header values sip.js's ACK-for-non-2xx copies from the request. */
  readonly from: string;
  readonly to: string;
  readonly routes: readonly string[];
  /** Every header line below our Via, already edited (Vias received, Record-Route, Route, Max-Forwards...). */
  readonly lines: readonly string[];
  readonly body: string;
}

/**
 * A forwarded request as sip.js's client transactions want it. sip.js's own OutgoingRequestMessage builds
 * a fresh UA request with a single Via; a proxy must keep the received Via stack and headers, so this
 * subclass renders the proxy's text. The Via branch is ours: sip.js would pick a 7-digit random one,
 * whereas §16.6 step 8 wants the loop hash in it; the proxy matches responses by that branch itself.
 */
export class ForwardedRequest extends OutgoingRequestMessage {
  private via = '';

  constructor(private readonly parts: ForwardedRequestParts) {
    super(parts.method, parts.ruri, parts.fromUri, parts.toUri, {
      callId: parts.callId,
      cseq: parts.cseq,
      fromTag: parts.fromTag,
      toTag: parts.toTag ?? '',
    });
    this.branch = parts.branch;
  }

  override setViaHeader(_branch: string, transport: string): void {
    this.branch = this.parts.branch;
    this.via = `SIP/2.0/${transport} ${this.parts.sentBy};branch=${this.parts.branch}`;
  }

  override getHeader(name: string): string | undefined {
    switch (name.toLowerCase()) {
      case 'via':
        return this.via;
      case 'from':
        return this.parts.from;
      case 'to':
        return this.parts.to;
      case 'route':
        return this.parts.routes.length > 0 ? this.parts.routes.join(', ') : undefined;
      default:
        return undefined;
    }
  }

  override toString(): string {
    return render(
      `${this.parts.method} ${this.parts.ruri.toString()} SIP/2.0`,
      [`Via: ${this.via}`, ...this.parts.lines],
      this.parts.body,
    );
  }
}
