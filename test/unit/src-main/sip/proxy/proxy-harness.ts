/**
 * Test doubles of the proxy's injected interfaces (resolver, connector, local bindings) over in-memory
 * SipTransport pairs, and a scriptable SIP phone that speaks raw SIP text parsed by sip.js.
 */
import { IncomingRequestMessage, IncomingResponseMessage, LoggerFactory, Parser } from 'sip.js/lib/core/index.js';
import { VirtualClock } from '../../../../../src-main/reload/clock';
import { SipProxy, type SipProxyOptions } from '../../../../../src-main/sip/proxy/sip-proxy';
import type { LocalBinding, ProxyTarget, ResolveResult } from '../../../../../src-main/sip/proxy/proxy-interfaces';
import {
  createMemorySipTransportPair,
  type MemorySipTransport,
} from '../../../../../src-main/sip/transport/memory-sip-transport';
import type { SipParty } from '../../../../../src-main/sip/transport/sip-transport';

const logger = (() => {
  const f = new LoggerFactory();
  f.builtinEnabled = false;
  return f.getLogger('test');
})();

export type SipMessage = IncomingRequestMessage | IncomingResponseMessage;

export function parse(text: string): SipMessage {
  const m = Parser.parseMessage(text, logger);
  if (!m) throw new Error(`unparseable: ${text.slice(0, 200)}`);
  return m;
}

/** Lets every queued microtask and immediate run (in-memory delivery, resolver promises). */
export async function settle(rounds = 8): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export function nodeId(byte: number): Uint8Array {
  return new Uint8Array(16).fill(byte);
}

export function hostOf(node: Uint8Array): string {
  return `${Buffer.from(node).toString('hex')}.reload.invalid`;
}

let seq = 0;
export function uniq(prefix: string): string {
  seq++;
  return `${prefix}${seq}`;
}

/** A SIP UA at one end of a memory pair: records what it receives, answers from a script. */
export class Phone {
  readonly received: SipMessage[] = [];
  onRequest: ((r: IncomingRequestMessage) => void) | undefined;

  constructor(
    readonly end: MemorySipTransport,
    readonly host: string,
  ) {
    end.onMessage((text) => {
      const m = parse(text);
      this.received.push(m);
      if (m instanceof IncomingRequestMessage) this.onRequest?.(m);
    });
  }

  send(text: string): void {
    void this.end.send(text);
  }

  requests(method?: string): IncomingRequestMessage[] {
    return this.received.filter(
      (m): m is IncomingRequestMessage =>
        m instanceof IncomingRequestMessage && (method === undefined || m.method === method),
    );
  }

  responses(method?: string): IncomingResponseMessage[] {
    return this.received.filter(
      (m): m is IncomingResponseMessage =>
        m instanceof IncomingResponseMessage && (method === undefined || m.method === method),
    );
  }

  statuses(method?: string): number[] {
    return this.responses(method).map((r) => r.statusCode ?? 0);
  }

  /** A response to `request` (all its Vias, Record-Routes on 1xx/2xx, our To tag). */
  respond(
    request: IncomingRequestMessage,
    status: number,
    opts: { toTag?: string; contact?: string; extra?: string[]; reason?: string } = {},
  ): void {
    const lines = [`SIP/2.0 ${status} ${opts.reason ?? 'Reason'}`];
    for (const v of request.getHeaders('via')) lines.push(`Via: ${v}`);
    if (status < 300 && status > 100)
      for (const rr of request.getHeaders('record-route')) lines.push(`Record-Route: ${rr}`);
    lines.push(`From: ${request.getHeader('from') ?? ''}`);
    const to = request.getHeader('to') ?? '';
    lines.push(`To: ${to}${status > 100 && !request.toTag ? `;tag=${opts.toTag ?? 'callee'}` : ''}`);
    lines.push(`Call-ID: ${request.callId}`, `CSeq: ${request.cseq} ${request.method}`);
    if (opts.contact) lines.push(`Contact: <${opts.contact}>`);
    lines.push(...(opts.extra ?? []), 'Content-Length: 0', '', '');
    this.send(lines.join('\r\n'));
  }
}

export interface RequestSpec {
  method: string;
  ruri: string;
  from: string;
  fromTag?: string;
  to: string;
  toTag?: string;
  callId: string;
  cseq?: number;
  branch: string;
  viaHost: string;
  maxForwards?: number | null;
  routes?: string[];
  contact?: string;
  extra?: string[];
  body?: string;
}

export function request(s: RequestSpec): string {
  const body = s.body ?? '';
  const lines = [`${s.method} ${s.ruri} SIP/2.0`, `Via: SIP/2.0/TCP ${s.viaHost};branch=${s.branch}`];
  if (s.maxForwards !== null) lines.push(`Max-Forwards: ${s.maxForwards ?? 70}`);
  for (const r of s.routes ?? []) lines.push(`Route: ${r}`);
  lines.push(`From: <${s.from}>;tag=${s.fromTag ?? 'caller'}`);
  lines.push(`To: <${s.to}>${s.toTag ? `;tag=${s.toTag}` : ''}`);
  lines.push(`Call-ID: ${s.callId}`, `CSeq: ${s.cseq ?? 1} ${s.method}`);
  if (s.contact) lines.push(`Contact: <${s.contact}>`);
  lines.push(...(s.extra ?? []));
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}

export const LOCAL_PARTY: SipParty = { kind: 'local', address: '127.0.0.1', port: 5070 };

export function overlayParty(node: Uint8Array, user: string): SipParty {
  return { kind: 'overlay', nodeId: node, user };
}

export function target(key: string, aor: string, node: Uint8Array): ProxyTarget {
  return { key, aor, destinations: [{ type: 'node', id: node }] };
}

export interface Rig {
  readonly proxy: SipProxy;
  readonly clock: VirtualClock;
  readonly node: Uint8Array;
  /** Resolver answers by Request-URI; anything else is not-found. */
  readonly resolutions: Map<string, ResolveResult>;
  readonly bindings: Map<string, LocalBinding[]>;
  /** Phones created by the connector, by target key. */
  readonly remotes: Map<string, Phone>;
  /** Target keys the connector refuses. */
  readonly unreachable: Set<string>;
  /** Called when the connector creates a phone (to script it). */
  onRemote: ((key: string, phone: Phone) => void) | undefined;
  /** A local UA attached to the proxy (its proxy-side end is attached). */
  localPhone(party?: SipParty, id?: string): Phone;
  /** A flow from another peer (proxy side party = overlay user). */
  overlayPhone(user: string, node: Uint8Array): Phone;
}

/** `framing`: 'datagram' makes every flow unreliable-style (the proxy then runs timers A, E, G, J, I, D). */
export function rig(
  options: Partial<SipProxyOptions> = {},
  nodeByte = 0xaa,
  framing: 'datagram' | 'stream' = 'stream',
): Rig {
  const clock = new VirtualClock();
  const node = nodeId(nodeByte);
  const resolutions = new Map<string, ResolveResult>();
  const bindings = new Map<string, LocalBinding[]>();
  const remotes = new Map<string, Phone>();
  const unreachable = new Set<string>();
  const r: Rig = {
    proxy: undefined as unknown as SipProxy,
    clock,
    node,
    resolutions,
    bindings,
    remotes,
    unreachable,
    onRemote: undefined,
    localPhone(party = LOCAL_PARTY, id = uniq('local')) {
      const [proxySide, uaSide] = createMemorySipTransportPair({
        framing,
        a: { id: `${id}-proxy`, party },
        b: { id: `${id}-ua`, party: overlayParty(node, 'self') },
      });
      r.proxy.attach(proxySide);
      return new Phone(uaSide, `${id}.ua.test`);
    },
    overlayPhone(user, peerNode) {
      const id = uniq('peer');
      const [proxySide, far] = createMemorySipTransportPair({
        framing,
        a: { id: `${id}-proxy`, party: overlayParty(peerNode, user) },
        b: { id: `${id}-far`, party: overlayParty(node, 'self@ov.test') },
      });
      r.proxy.attach(proxySide);
      return new Phone(far, hostOf(peerNode));
    },
  };
  const proxy = new SipProxy({
    nodeId: node,
    clock,
    resolver: {
      resolve: async (uri) => resolutions.get(uri) ?? { failure: 'not-found', reason: `no ${uri}` },
    },
    connector: {
      connect: async (t) => {
        if (unreachable.has(t.key)) throw new Error(`cannot reach ${t.key}`);
        const last = t.destinations[t.destinations.length - 1];
        const peer = last && last.type === 'node' ? last.id : nodeId(0);
        const [proxySide, far] = createMemorySipTransportPair({
          framing,
          a: { id: uniq(`to-${t.key}-`), party: overlayParty(peer, t.aor) },
          b: { id: uniq(`from-proxy-`), party: overlayParty(node, 'self@ov.test') },
        });
        const phone = new Phone(far, hostOf(peer));
        remotes.set(t.key, phone);
        r.onRemote?.(t.key, phone);
        return proxySide;
      },
    },
    localBindings: { lookup: (uri) => bindings.get(uri) ?? [] },
    // 100 Trying at once, so that every test sees it first (its 200 ms rule has a test of its own).
    tryingDelayMs: 0,
    ...options,
  });
  (r as { proxy: SipProxy }).proxy = proxy;
  return r;
}

/** A local UA registered at the rig's proxy under `uris` (its proxy-side flow is the binding). */
export function registerLocal(r: Rig, uris: string[], contact?: string): Phone {
  const id = uniq('bound');
  const [proxySide, uaSide] = createMemorySipTransportPair({
    a: { id: `${id}-proxy`, party: LOCAL_PARTY },
    b: { id: `${id}-ua`, party: overlayParty(r.node, 'self') },
  });
  r.proxy.attach(proxySide);
  for (const u of uris) r.bindings.set(u, [...(r.bindings.get(u) ?? []), { transport: proxySide, contact }]);
  return new Phone(uaSide, `${id}.ua.test`);
}

/** alice calling bob in the tests' overlay `ov.test`. */
export const ALICE = 'sip:alice@ov.test';
export const BOB = 'sip:bob@ov.test';

/** Sends a request from ALICE (a UA at 127.0.0.1:5070) to BOB through `caller`; `extra` overrides any field. */
export function sendAliceToBob(
  caller: Phone,
  method: string,
  callId: string,
  branch: string,
  extra: Partial<RequestSpec> = {},
): void {
  caller.send(
    request({
      method,
      ruri: BOB,
      from: ALICE,
      to: BOB,
      callId,
      branch,
      viaHost: caller.host,
      contact: 'sip:alice@127.0.0.1:5070',
      ...extra,
    }),
  );
}
