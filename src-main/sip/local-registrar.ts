/**
 * The registrar for UAs at this peer (RFC 3261 §10.3, RFC 7904 §3): a REGISTER from a local UA for the
 * peer's own user keeps a binding here (Contact, expiry, the flow it came on) and stores the AOR's route in
 * the overlay through OverlayRegistrations; any other AOR is refused with 403 (a peer may register only the
 * user its certificate names). The bindings answer the proxy's LocalBindings lookups by AOR, by this node's
 * GRUU and by the registered Contact URIs (in-dialog requests carry the Contact as Request-URI).
 */
import { randomBytes } from 'node:crypto';
import {
  constructOutgoingResponse,
  Grammar,
  type IncomingRequestMessage,
  type NameAddrHeader,
  type URI,
} from 'sip.js/lib/core/index.js';
import { bytesEqual, type Clock, type DecodeContext, type TimerHandle } from '../reload/index';
import { decodeGruuDestinations, gruuFor } from './gruu';
import { errorResponse } from './message/error-response';
import type { LocalBinding, LocalBindings } from './proxy/proxy-interfaces';
import { aorOf } from './proxy/sip-text';
import { contactPrefsFromContact } from './registration/contact-prefs';
import type { OverlayRegistrations } from './registration/overlay-registrations';
import { RegistrationArgumentError, RegistrationStoreError, SipRegistrationError } from './registration/errors';
import type { SipTransport } from './transport/sip-transport';

/** Expires when a REGISTER states none (RFC 3261 §10.2.1.1 leaves it to the registrar). */
export const DEFAULT_EXPIRES_SEC = 3600;
/** The longest binding granted (OverlayRegistrations' default cap); longer requests get this. */
export const MAX_EXPIRES_SEC = 86_400;
/** Contacts one REGISTER may carry. */
export const MAX_CONTACTS_PER_REGISTER = 16;

export interface LocalRegistrarOptions {
  registrations: OverlayRegistrations;
  nodeId: Uint8Array;
  ctx: DecodeContext;
  clock: Clock;
  /** Called after the bindings of `aor` changed (the resolver's cache of it is stale then). */
  changed?: (aor: string) => void;
  /** A failure worth reporting in status (a refused or failed REGISTER). */
  failed?: (reason: string) => void;
}

export interface LocalBindingStatus {
  aor: string;
  contact: string;
  flow: string;
  protocol: string;
  expiresInSec: number;
  instance?: string;
  /** The pub-gruu the 200 to its REGISTER gave it (RFC 7904 §5: it names this peer). */
  gruu: string;
}

interface Binding {
  aor: string;
  /** The Contact URI as registered (without the angle brackets and header parameters). */
  contact: string;
  /** The comparison form of the Contact URI (lookup key and OverlayRegistrations binding id). */
  key: string;
  instance: string | undefined;
  transport: SipTransport;
  expiresAt: number;
  timer: TimerHandle;
}

/**
 * Comparison form of a Contact URI: scheme, lower-cased host and port (default 5060/5061). The user part and
 * parameters are left out: a local UA is its loopback address and port, and phones often put another Contact
 * (no user, other parameters) in their dialogs than in their REGISTER — sipp's UAS does.
 */
function contactKey(uri: URI): string {
  const port = uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060);
  return `${uri.scheme}:${uri.host.toLowerCase()}:${port}`;
}

function parseUri(text: string): URI | undefined {
  try {
    return Grammar.URIParse(text);
  } catch {
    return undefined;
  }
}

export class LocalRegistrar implements LocalBindings {
  /** By AOR, then by contact key. */
  private readonly byAor = new Map<string, Map<string, Binding>>();
  private stopped = false;

  constructor(private readonly o: LocalRegistrarOptions) {}

  /** The GRUU of `aor` at this node (RFC 7904 §8: the destination list reaching us), with scheme. */
  gruuOf(aor: string): string {
    return `sip:${gruuFor(aor, [{ type: 'node', id: this.o.nodeId }], this.o.ctx.nodeIdLength)}`;
  }

  lookup(uriText: string): readonly LocalBinding[] {
    const uri = parseUri(uriText);
    if (!uri) return [];
    const gr = uri.getParam('gr');
    if (typeof gr === 'string') {
      // Our GRUU: the destination list must end at this node; it reaches every UA of the AOR here.
      let ours = false;
      try {
        const list = decodeGruuDestinations(gr, this.o.ctx);
        const last = list[list.length - 1];
        ours = last?.type === 'node' && bytesEqual(last.id, this.o.nodeId);
      } catch {
        ours = false;
      }
      return ours ? this.forAor(aorOf(uri)) : [];
    }
    const byAor = this.forAor(aorOf(uri));
    if (byAor.length > 0) return byAor;
    // A registered Contact (in-dialog requests and retargeted ones): deliver unchanged to that UA.
    const key = contactKey(uri);
    for (const bindings of this.byAor.values()) {
      const b = bindings.get(key);
      if (b && !b.transport.closed) return [{ transport: b.transport }];
    }
    return [];
  }

  /** A flow was replaced (e.g. a UDP flow re-created after its idle close): its bindings move to `next`. */
  rebind(previous: SipTransport, next: SipTransport): void {
    for (const bindings of this.byAor.values())
      for (const b of bindings.values()) if (b.transport === previous) b.transport = next;
  }

  /** Whether any binding uses `transport`. */
  uses(transport: SipTransport): boolean {
    for (const bindings of this.byAor.values())
      for (const b of bindings.values()) if (b.transport === transport) return true;
    return false;
  }

  /** Drops the bindings that use `transport` (a TCP connection that closed: the UA registers again). */
  dropFlow(transport: SipTransport): void {
    for (const bindings of [...this.byAor.values()])
      for (const b of [...bindings.values()]) if (b.transport === transport) this.remove(b);
  }

  status(): LocalBindingStatus[] {
    const now = this.o.clock.now();
    return [...this.byAor.values()].flatMap((bindings) =>
      [...bindings.values()].map((b) => ({
        aor: b.aor,
        contact: b.contact,
        flow: b.transport.id,
        protocol: b.transport.protocol,
        expiresInSec: Math.max(0, Math.ceil((b.expiresAt - now) / 1000)),
        gruu: this.gruuOf(b.aor),
        ...(b.instance !== undefined ? { instance: b.instance } : {}),
      })),
    );
  }

  /** Forgets every binding (the caller stops OverlayRegistrations, which removes the overlay records). */
  stop(): void {
    this.stopped = true;
    for (const bindings of this.byAor.values()) for (const b of bindings.values()) b.timer.cancel();
    this.byAor.clear();
  }

  /** Answers one REGISTER that arrived on `transport`. */
  async handle(request: IncomingRequestMessage, transport: SipTransport): Promise<void> {
    const reply = (text: string) => transport.send(text).catch(() => this.o.failed?.('register: reply not sent'));
    if (this.stopped) return reply(errorResponse(request, 503, 'Shutting down'));
    const toUri = request.to?.uri;
    if (!toUri) return reply(errorResponse(request, 400, 'To: unparseable'));
    const aor = aorOf(toUri);
    if (!this.o.registrations.canRegister(aor)) {
      this.o.failed?.(`register ${aor}: not this peer's user`);
      return reply(errorResponse(request, 403, `Only ${this.o.registrations.aor ?? 'this peer'} registers here`));
    }
    let changes: { contact: string; uri: URI; expiresSec: number; prefs: string; instance: string | undefined }[];
    let wildcard = false;
    try {
      ({ changes, wildcard } = this.contactsOf(request));
    } catch (error) {
      return reply(errorResponse(request, 400, (error as Error).message));
    }
    try {
      if (wildcard) {
        for (const b of [...(this.byAor.get(aor)?.values() ?? [])]) await this.unbind(b);
      }
      for (const c of changes) {
        const key = contactKey(c.uri);
        const existing = this.byAor.get(aor)?.get(key);
        if (c.expiresSec === 0) {
          if (existing) await this.unbind(existing);
          continue;
        }
        const { expiresSec } = await this.o.registrations.register(aor, {
          bindingId: key,
          expiresSec: c.expiresSec,
          contactPrefs: c.prefs,
        });
        this.bind({ aor, contact: c.contact, key, instance: c.instance, transport, expiresSec });
      }
    } catch (error) {
      const reason = `register ${aor}: ${(error as Error).message}`;
      this.o.failed?.(reason);
      // Refusals of the input are the UA's fault; a Store the overlay did not take is ours, try later.
      if (error instanceof RegistrationArgumentError)
        return reply(errorResponse(request, 400, (error as Error).message));
      if (error instanceof SipRegistrationError && !(error instanceof RegistrationStoreError))
        return reply(errorResponse(request, 403, (error as Error).message));
      return reply(errorResponse(request, 500, 'The overlay did not take the registration'));
    } finally {
      this.o.changed?.(aor);
    }
    return reply(this.ok(request, aor));
  }

  private contactsOf(request: IncomingRequestMessage) {
    const headerExpires = request.getHeader('expires');
    let defaultExpires = DEFAULT_EXPIRES_SEC;
    if (headerExpires !== undefined) {
      if (!/^\s*\d{1,10}\s*$/.test(headerExpires)) throw new Error('Expires: not a number of seconds');
      defaultExpires = Number(headerExpires);
    }
    const values = request.getHeaders('contact');
    if (values.length > MAX_CONTACTS_PER_REGISTER) throw new Error(`Contact: more than ${MAX_CONTACTS_PER_REGISTER}`);
    if (values.some((v) => v.trim() === '*')) {
      // RFC 3261 §10.3 step 6: "*" only alone and with Expires: 0.
      if (values.length !== 1 || defaultExpires !== 0) throw new Error('Contact: * needs Expires: 0 and no other');
      return { changes: [], wildcard: true };
    }
    const changes = values.map((_, i) => {
      const parsed = request.parseHeader('contact', i) as NameAddrHeader | undefined;
      if (!parsed?.uri) throw new Error('Contact: unparseable');
      const param = parsed.getParam('expires');
      let expiresSec = defaultExpires;
      if (param !== undefined) {
        if (param === null || !/^\d{1,10}$/.test(param)) throw new Error('Contact: expires parameter is not a number');
        expiresSec = Number(param);
      }
      expiresSec = Math.min(expiresSec, MAX_EXPIRES_SEC);
      const instance = parsed.getParam('+sip.instance');
      return {
        contact: parsed.uri.toString(),
        uri: parsed.uri,
        expiresSec,
        prefs: contactPrefsFromContact({
          uri: { scheme: parsed.uri.scheme },
          parameters: (parsed as unknown as { parameters: Record<string, string | null> }).parameters,
        }),
        instance: instance ?? undefined,
      };
    });
    return { changes, wildcard: false };
  }

  private bind(b: Omit<Binding, 'timer' | 'expiresAt'> & { expiresSec: number }): void {
    let bindings = this.byAor.get(b.aor);
    if (!bindings) this.byAor.set(b.aor, (bindings = new Map()));
    bindings.get(b.key)?.timer.cancel();
    const binding: Binding = {
      aor: b.aor,
      contact: b.contact,
      key: b.key,
      instance: b.instance,
      transport: b.transport,
      expiresAt: this.o.clock.now() + b.expiresSec * 1000,
      timer: this.o.clock.setTimeout(() => {
        void this.unbind(binding).catch(() => this.o.failed?.(`expire ${b.aor}: unregister failed`));
      }, b.expiresSec * 1000),
    };
    bindings.set(b.key, binding);
  }

  private remove(b: Binding): boolean {
    const bindings = this.byAor.get(b.aor);
    if (bindings?.get(b.key) !== b) return false;
    b.timer.cancel();
    bindings.delete(b.key);
    if (bindings.size === 0) this.byAor.delete(b.aor);
    this.o.changed?.(b.aor);
    return true;
  }

  private async unbind(b: Binding): Promise<void> {
    if (!this.remove(b)) return;
    await this.o.registrations.unregister(b.aor, b.key);
  }

  private forAor(aor: string): LocalBinding[] {
    const bindings = this.byAor.get(aor);
    if (!bindings) return [];
    return [...bindings.values()]
      .filter((b) => !b.transport.closed)
      .map((b) => ({ transport: b.transport, contact: `${b.contact}` }));
  }

  /** 200 OK listing every current binding of `aor` with its expiry and this node's GRUU (RFC 5627). */
  private ok(request: IncomingRequestMessage, aor: string): string {
    const now = this.o.clock.now();
    const gruu = this.gruuOf(aor);
    const contacts = [...(this.byAor.get(aor)?.values() ?? [])].map((b) => {
      const expires = Math.max(0, Math.ceil((b.expiresAt - now) / 1000));
      const instance = b.instance !== undefined ? `;+sip.instance=${b.instance}` : '';
      return `Contact: <${b.contact}>;expires=${expires}${instance};pub-gruu="${gruu}"`;
    });
    return constructOutgoingResponse(request, {
      statusCode: 200,
      reasonPhrase: 'OK',
      toTag: randomBytes(8).toString('hex'),
      extraHeaders: contacts,
    }).message;
  }
}
