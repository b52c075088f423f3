/**
 * A scripted backend behind the renderer's real client: the real dispatcher (so every request the UI sends
 * is checked against the contract's schemas, and every answer too), the real event hub, and handlers that
 * play the overlay and identity services. Tests replace handlers to script refusals and pauses. The seam is
 * the bridge's Client interface; nothing of the renderer is replaced.
 */
import { EventHub } from '../../../src-main/app/event-hub';
import { createLogger } from '../../../src-main/common/logger';
import { ServiceError } from '../../../src-main/common/service-error';
import { createDispatcher, type Handlers } from '../../../src-main/ipc/dispatcher';
import { createClient, type Client, type ConnectionState, type StatefulTransport } from '../../../src-renderer/bridge';
import type { EventName, EventOf } from '../../../src-shared/ipc/contract';
import type { Result } from '../../../src-shared/ipc/envelope';
import type { AppInfo } from '../../../src-shared/model/app-info';
import type { CertificateInfo, IdentityStatus } from '../../../src-shared/model/identity';
import {
  JOIN_STEPS,
  type JoinStepStatus,
  type OverlayOffer,
  type OverlayStatus,
} from '../../../src-shared/model/overlay';
import type { Settings } from '../../../src-shared/model/settings';
import type { UserErrorCode } from '../../../src-shared/model/user-errors';

/** What a service throws on purpose: the dispatcher sends it as handler-failed with this reason. */
export class Refusal extends ServiceError {
  constructor(
    readonly reason: UserErrorCode | string,
    message: string,
  ) {
    super(message);
  }
}

export const NODE_A = 'a1'.repeat(16);
export const NODE_B = 'b2'.repeat(16);
export const NODE_C = 'c3'.repeat(16);
export const FINGERPRINT = Array.from({ length: 32 }, (_, i) =>
  (i * 7).toString(16).padStart(2, '0').toUpperCase(),
).join(':');
export const SIGNER_FINGERPRINT = Array.from({ length: 32 }, (_, i) => (255 - i).toString(16).toUpperCase()).join(':');

export const INFO: AppInfo = {
  name: 'Reload Softphone',
  version: '0.0.0-test',
  mode: 'browser',
  platform: 'linux',
  versions: { node: '20.0.0', electron: null, chrome: null },
  dataDir: '/tmp/softphone-test',
};

export const OFFER: OverlayOffer = {
  offer: 'offer-0123456789abcdef',
  overlay: 'example.org',
  url: 'https://example.org/.well-known/reload-config',
  sequence: 7,
  signers: [
    {
      fingerprint: SIGNER_FINGERPRINT,
      subject: 'CN=example.org configuration signer',
      notAfter: '2030-01-01T00:00:00.000Z',
    },
  ],
  enrollment: true,
  selfSignedPermitted: false,
  expires: null,
};

export function emptyStatus(): OverlayStatus {
  return {
    state: 'no-identity',
    reason: null,
    since: 0,
    overlay: null,
    local: false,
    configuration: null,
    userName: null,
    nodeId: null,
    predecessors: [],
    successors: [],
    links: [],
    storedRecords: 0,
    storedBytes: 0,
    steps: [],
    lastError: null,
  };
}

export function joinedStatus(overrides: Partial<OverlayStatus> = {}): OverlayStatus {
  return {
    ...emptyStatus(),
    state: 'joined',
    since: 1,
    overlay: 'example.org',
    configuration: { source: OFFER.url, sequence: 7, signer: SIGNER_FINGERPRINT },
    userName: 'alice@example.org',
    nodeId: NODE_A,
    predecessors: [NODE_B],
    successors: [NODE_C],
    links: [
      { transport: 'TLS-TCP-FH-NO-ICE', count: 2 },
      { transport: 'DTLS-UDP-SR', count: 1 },
    ],
    storedRecords: 12,
    storedBytes: 4096,
    steps: JOIN_STEPS.map((step) => ({ step, status: 'done' as const })),
    ...overrides,
  };
}

export function certificate(overrides: Partial<CertificateInfo> = {}): CertificateInfo {
  return {
    id: 'cert-alice',
    overlay: 'example.org',
    userName: 'alice@example.org',
    nodeIds: [NODE_A],
    issuer: 'CN=example.org enrollment CA',
    selfSigned: false,
    notBefore: '2026-11-01T00:00:00.000Z',
    notAfter: '2027-02-01T00:00:00.000Z',
    daysLeft: 55,
    fingerprint: FINGERPRINT,
    keyAlgorithm: 'ECDSA P-256',
    active: true,
    renewal: { due: '2027-01-10T00:00:00.000Z', lastError: null },
    ...overrides,
  };
}

export const EXPORTED_TEXT = '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n';

export interface FakeBackend {
  readonly client: Client;
  /** Every request the UI sent while connected, in order (the dispatcher may still have refused it). */
  readonly calls: { channel: string; payload: unknown }[];
  readonly handlers: Handlers;
  overlay: OverlayStatus;
  identity: IdentityStatus;
  settings: Settings;
  /** Replace fields of the overlay status and push it as the backend does. */
  setOverlay(patch: Partial<OverlayStatus>): void;
  setIdentity(status: IdentityStatus): void;
  emit<E extends EventName>(event: E, payload: EventOf<E>): void;
  /** Moves the bridge to another state, as a WebSocket would. */
  setConnection(state: ConnectionState): void;
  callsTo(channel: string): unknown[];
}

export function fakeBackend(
  init: { overlay?: OverlayStatus; certificates?: CertificateInfo[]; settings?: Settings } = {},
): FakeBackend {
  const log = createLogger({ level: 'error', write: () => undefined });
  const hub = new EventHub(log);
  const calls: { channel: string; payload: unknown }[] = [];
  let connection: ConnectionState = 'open';
  const stateListeners = new Set<(s: ConnectionState) => void>();

  const backend = {
    overlay: init.overlay ?? emptyStatus(),
    identity: { certificates: init.certificates ?? [], keychain: 'available' } as IdentityStatus,
    settings: init.settings ?? { displayName: '', theme: 'system' },
  } as FakeBackend;

  const setOverlay = (patch: Partial<OverlayStatus>): void => {
    backend.overlay = { ...backend.overlay, ...patch, since: backend.overlay.since + 1 };
    hub.emit('overlay.status', backend.overlay);
  };
  const setIdentity = (status: IdentityStatus): void => {
    backend.identity = status;
    hub.emit('identity.changed', status);
  };
  const step = (name: JoinStepStatus['step'], status: JoinStepStatus['status'], detail?: string): void => {
    const steps = backend.overlay.steps.filter((s) => s.step !== name);
    steps.push({ step: name, status, ...(detail ? { detail } : {}) });
    setOverlay({ steps });
  };
  const addCertificate = (cert: CertificateInfo): CertificateInfo => {
    const others = backend.identity.certificates.map((c) => ({ ...c, active: false }));
    setIdentity({ ...backend.identity, certificates: [...others, cert] });
    setOverlay({ state: 'offline', reason: 'not started yet', userName: cert.userName, overlay: cert.overlay });
    return cert;
  };

  const handlers: Handlers = {
    'app.info': () => INFO,
    'settings.get': () => backend.settings,
    'settings.update': (patch) => {
      backend.settings = {
        ...backend.settings,
        ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
      };
      hub.emit('settings.changed', backend.settings);
      return backend.settings;
    },
    'overlay.status': () => backend.overlay,
    'overlay.discover': () => OFFER,
    'overlay.join': () => {
      if (backend.identity.certificates.length === 0) throw new Refusal('identity-missing', 'there is no identity');
      setOverlay({ state: 'joining', reason: null, lastError: null });
      step('links', 'done', '2 links');
      step('ring', 'done');
      step('registered', 'done');
      setOverlay({
        ...joinedStatus({ userName: backend.overlay.userName, overlay: backend.overlay.overlay }),
        steps: backend.overlay.steps,
      });
      return backend.overlay;
    },
    'overlay.leave': () => {
      setOverlay({ state: 'offline', reason: 'left the overlay', predecessors: [], successors: [], links: [] });
      return backend.overlay;
    },
    'identity.status': () => backend.identity,
    'identity.enroll': ({ userName }) => {
      step('configuration', 'done', 'sequence 7');
      step('key-pair', 'done');
      step('certificate', 'done');
      return addCertificate(certificate({ userName: userName.includes('@') ? userName : `${userName}@example.org` }));
    },
    'identity.createSelfSigned': ({ overlay, userName }) => {
      step('configuration', 'done');
      step('key-pair', 'done');
      step('certificate', 'done');
      const name = overlay.kind === 'local' ? 'local' : 'example.org';
      return addCertificate(
        certificate({
          id: `cert-${userName}`,
          overlay: name,
          userName: userName.includes('@') ? userName : `${userName}@${name}`,
          selfSigned: true,
          issuer: `CN=${userName}`,
        }),
      );
    },
    'identity.renew': ({ id }) => {
      const cert = backend.identity.certificates.find((c) => c.id === id);
      if (!cert) throw new Refusal('identity-missing', 'no such certificate');
      const renewed = { ...cert, notAfter: '2027-05-01T00:00:00.000Z', daysLeft: 144 };
      setIdentity({
        ...backend.identity,
        certificates: backend.identity.certificates.map((c) => (c.id === id ? renewed : c)),
      });
      return renewed;
    },
    'identity.export': ({ id }) => {
      if (!backend.identity.certificates.some((c) => c.id === id))
        throw new Refusal('identity-missing', 'no such certificate');
      return { fileName: 'alice@example.org.identity.pem', text: EXPORTED_TEXT };
    },
    'identity.import': ({ text }) => {
      if (!text.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
        throw new Refusal('identity-file-invalid', 'the file is not an exported identity');
      }
      return addCertificate(certificate());
    },
    'identity.forget': ({ id }) => {
      setIdentity({ ...backend.identity, certificates: backend.identity.certificates.filter((c) => c.id !== id) });
      setOverlay({ ...emptyStatus(), since: backend.overlay.since });
      return backend.identity;
    },
  };

  // The dispatcher looks a handler up per request, so tests may replace entries of `handlers` at any time.
  const dispatcher = createDispatcher(handlers, log);

  const transport: StatefulTransport = {
    async request(message): Promise<Result> {
      if (connection !== 'open') {
        return {
          ok: false,
          error: { code: 'bridge-closed', message: 'the connection is closed', channel: message.channel },
        };
      }
      calls.push({ channel: message.channel, payload: structuredClone(message.payload) });
      return structuredClone(await dispatcher.dispatch(structuredClone(message)));
    },
    subscribe: (listener) => hub.subscribe((m) => listener(structuredClone(m))),
    get state() {
      return connection;
    },
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
  };

  return Object.assign(backend, {
    client: createClient(transport, {
      onViolation: (m: string) => {
        throw new Error(m);
      },
    }),
    calls,
    handlers,
    setOverlay,
    setIdentity,
    emit: <E extends EventName>(event: E, payload: EventOf<E>) => hub.emit(event, payload),
    setConnection(state: ConnectionState) {
      connection = state;
      for (const l of [...stateListeners]) l(state);
    },
    callsTo: (channel: string) => calls.filter((c) => c.channel === channel).map((c) => c.payload),
  });
}

/** A promise and its resolver, to hold a handler at a point the test chooses. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}
