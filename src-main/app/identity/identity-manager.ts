/**
 * The app's identity side (issue 12): overlay discovery, enrollment, self-signed identities, the certificates
 * in Settings, renewal, export, import and forget, behind the IPC handlers of identity-api.ts. Built on
 * IdentityService (keys in the keychain, certificates in the data folder) and ProfileStore (which overlays
 * this device joined, whose signer the user accepted, which identity is active).
 *
 * Changes run one at a time (a queue), so an automatic renewal never races a forget or an import. Every
 * refusal is a UserFacingError (identity-errors.ts); nothing here ever returns or logs a key or a password.
 */
import type { IdentityStatus, CertificateInfo } from '../../../src-shared/model/identity';
import type { UserError } from '../../../src-shared/model/user-errors';
import type { Logger } from '../../common/logger';
import {
  acceptConfigurationDocument,
  checkUserName,
  ConfigurationExpiredError,
  fetchConfigurationText,
  importIdentity,
  LOCAL_OVERLAY_NAME,
  localOverlayConfiguration,
  parseConfigurationDocument,
  readCertificate,
  WELL_KNOWN_PATH,
  type OverlayConfiguration,
} from '../../reload';
import type { CredentialStore } from '../credentials/credential-store';
import { UserFacingError } from '../user-facing-error';
import { certificateId, summarizeCertificate } from './certificate-summary';
import type {
  ActiveIdentity,
  IdentityApi,
  IdentityChangeCause,
  IdentityChannel,
  IdentityStepName,
} from './identity-api';
import { toUserFacing, type ErrorContext } from './identity-errors';
import {
  certificateFile,
  clockedPolicy,
  IdentityService,
  readCertificateFile,
  renewalDueAt,
  type DeviceIdentity,
} from './identity-service';
import { discoverOverlay, OfferStore, sameFingerprint, type FetchSettings, type HeldOffer } from './overlay-offers';
import { ProfileStore, type OverlayProfile, type Profiles } from './overlay-profiles';
import type { Handlers } from '../../ipc/dispatcher';

export interface IdentityApiOptions {
  dataDir: string;
  /** The installation's keychain (namespaced); rejects with KeychainUnavailableError when there is none. */
  credentials: () => Promise<CredentialStore>;
  log: Logger;
  /** Our clock (certificate validity, renewal, offers). */
  now?: () => Date;
  /** Publishes `identity.changed`. */
  emit: (status: IdentityStatus) => void;
  /** Called before an identity is forgotten (the peer leaves the overlay first). */
  beforeForget?: (id: string) => Promise<void> | void;
  /** DNS and HTTPS trust for the configuration and enrollment servers (tests); the system's otherwise. */
  fetch?: FetchSettings;
  /** How often automatic renewal checks run (ms); hourly. */
  renewalCheckMs?: number;
}

type StepStatus = 'active' | 'done' | 'failed' | 'skipped';

/** An overlay an identity is being made for: remembered once the identity is stored. */
interface OverlayChoice {
  config: OverlayConfiguration;
  profile: Omit<OverlayProfile, 'users'>;
  /** The document to cache (operator overlays). */
  document?: string;
}

interface Loaded {
  config: OverlayConfiguration;
  document: string | undefined;
}

const HOUR_MS = 3_600_000;

export function createIdentityApi(options: IdentityApiOptions): IdentityApi {
  const { log } = options;
  const now = options.now ?? (() => new Date());
  const fetchSettings = options.fetch ?? {};
  const profiles = new ProfileStore(options.dataDir, log, now);
  const offers = new OfferStore(() => now().getTime());
  const stepListeners = new Set<(step: IdentityStepName, status: StepStatus, detail?: string) => void>();
  const activeListeners = new Set<(active: ActiveIdentity | undefined, cause: IdentityChangeCause) => void>();
  const renewalErrors = new Map<string, UserError>();
  const configs = new Map<string, Loaded>();
  let state: Profiles | undefined;
  let tail: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /** Runs changes one after another. */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = tail.then(work, work);
    tail = run.catch(() => undefined);
    return run;
  }

  function step(name: IdentityStepName, status: StepStatus, detail?: string): void {
    for (const listener of [...stepListeners]) {
      try {
        listener(name, status, detail);
      } catch (error) {
        log.warn('identity step listener failed', { error });
      }
    }
  }

  /** Rethrows `error` as the UserFacingError it means (or as is, when it is a bug). */
  function fail(error: unknown, context: ErrorContext): never {
    const mapped = toUserFacing(error, context);
    if (mapped instanceof UserFacingError) {
      log.info('identity request refused', { action: context.action, reason: mapped.reason, detail: mapped.message });
    }
    throw mapped;
  }

  async function readState(): Promise<Profiles> {
    state ??= await profiles.read();
    return state;
  }

  async function writeState(next: Profiles): Promise<void> {
    await profiles.write(next);
    state = next;
  }

  /** Opened once; a failure (no keychain yet) is tried again on the next request. */
  let opened: Promise<CredentialStore> | undefined;
  function credentials(): Promise<CredentialStore> {
    opened ??= options.credentials().catch((error: unknown) => {
      opened = undefined;
      throw error;
    });
    return opened;
  }

  async function service(): Promise<IdentityService> {
    return new IdentityService(await credentials(), profiles.certificatesDir, { now });
  }

  function localChoice(): OverlayChoice {
    return {
      config: localOverlayConfiguration(),
      profile: { name: LOCAL_OVERLAY_NAME, local: true, source: 'embedded', signer: null },
    };
  }

  /** The offer named in a request, checked against the signer the user accepted. */
  function heldOffer(request: { offer: string; acceptSigner: string }): HeldOffer {
    const held = offers.get(request.offer);
    if (!held)
      throw new UserFacingError(
        'offer-expired',
        'The overlay’s configuration was fetched more than 10 minutes ago (or not at all); find the overlay again.',
      );
    if (!held.signers.some((s) => sameFingerprint(s.fingerprint, request.acceptSigner)))
      throw new UserFacingError(
        'signer-changed',
        `The signer you accepted is not the one that signed the configuration of ${held.config.instanceName}.`,
      );
    return held;
  }

  function operatorChoice(held: HeldOffer, acceptSigner: string): OverlayChoice {
    const signer = held.signers.find((s) => sameFingerprint(s.fingerprint, acceptSigner));
    return {
      config: held.config,
      profile: {
        name: held.config.instanceName,
        local: false,
        source: held.url,
        signer: signer?.fingerprint ?? acceptSigner,
      },
      document: held.document,
    };
  }

  /** "alice" gets the overlay's domain; a full name is kept (and must be in the overlay's domain). */
  function qualify(userName: string, overlay: string): string {
    return userName.includes('@') ? userName : `${userName}@${overlay}`;
  }

  /** Remembers the overlay and the user, caches the document, and makes the identity the active one. */
  async function remember(choice: OverlayChoice, userName: string): Promise<void> {
    const current = await readState();
    if (choice.document !== undefined) {
      await profiles.writeDocument(choice.profile.name, choice.document);
      configs.set(choice.profile.name, { config: choice.config, document: choice.document });
    }
    const existing = current.overlays.find((o) => o.name === choice.profile.name);
    const users = [...new Set([...(existing?.users ?? []), userName])];
    const overlays = [...current.overlays.filter((o) => o.name !== choice.profile.name), { ...choice.profile, users }];
    await writeState({ ...current, overlays, active: { overlay: choice.profile.name, userName } });
  }

  /** The configuration of a remembered overlay: embedded, or the cached document (fetched again once expired). */
  async function configOf(profile: OverlayProfile): Promise<Loaded> {
    if (profile.local) return { config: localOverlayConfiguration(), document: undefined };
    const cached = configs.get(profile.name);
    if (cached && !(cached.config.expiration && cached.config.expiration <= now())) return cached;
    const document = await profiles.readDocument(profile.name);
    if (document === undefined)
      throw new UserFacingError(
        'identity-missing',
        `The configuration of ${profile.name} is no longer in the data folder; join the overlay again.`,
      );
    try {
      const config = acceptConfigurationDocument(document, { overlayName: profile.name, now: now() });
      configs.set(profile.name, { config, document });
      return { config, document };
    } catch (error) {
      if (!(error instanceof ConfigurationExpiredError)) fail(error, { action: 'load', overlay: profile.name });
    }
    return refetch(profile, document);
  }

  /** A newer configuration from where the expired one came from; it must be signed by the old one's signers. */
  async function refetch(profile: OverlayProfile, document: string): Promise<Loaded> {
    const current = parseConfigurationDocument(document).at(-1);
    const wellKnown = `https://${profile.name}${WELL_KNOWN_PATH}`;
    try {
      const { text } = await fetchConfigurationText({
        overlayName: profile.name,
        // A source that is the overlay's well-known URL was found by name: look it up again (DNS SRV).
        ...(profile.source === wellKnown ? {} : { url: profile.source }),
        ...(fetchSettings.resolveSrv ? { resolveSrv: fetchSettings.resolveSrv } : {}),
        ...(fetchSettings.tlsCa ? { tlsCa: fetchSettings.tlsCa } : {}),
      });
      const config = acceptConfigurationDocument(text, {
        overlayName: profile.name,
        ...(current ? { current } : {}),
        now: now(),
      });
      await profiles.writeDocument(profile.name, text);
      configs.set(profile.name, { config, document: text });
      log.info('overlay configuration renewed', { overlay: profile.name, sequence: config.sequence });
      return { config, document: text };
    } catch (error) {
      fail(error, { action: 'load', overlay: profile.name });
    }
  }

  /** The remembered overlay and user an id names, or identity-missing. */
  async function find(id: string): Promise<{ profile: OverlayProfile; userName: string }> {
    const current = await readState();
    for (const profile of current.overlays)
      for (const userName of profile.users)
        if (certificateId(profile.name, userName) === id) return { profile, userName };
    throw new UserFacingError('identity-missing', 'That identity is not on this device (it may have been forgotten).');
  }

  async function loadIdentity(
    profile: OverlayProfile,
    userName: string,
    allowExpired: boolean,
  ): Promise<{ identity: DeviceIdentity; loaded: Loaded }> {
    const loaded = await configOf(profile);
    const context: ErrorContext = { action: 'load', overlay: profile.name, userName };
    let identity: DeviceIdentity | undefined;
    try {
      identity = await (await service()).load(loaded.config, userName, { allowExpired });
    } catch (error) {
      fail(error, context);
    }
    if (!identity)
      throw new UserFacingError(
        'identity-missing',
        `The key of ${userName} is not in this device’s keychain; import the identity you exported, or join again.`,
      );
    return { identity, loaded };
  }

  function activeOf(identity: DeviceIdentity, profile: OverlayProfile, loaded: Loaded): ActiveIdentity {
    return {
      id: certificateId(profile.name, identity.userName),
      overlay: profile.name,
      local: profile.local,
      userName: identity.userName,
      privateKey: identity.keys.privateKey,
      chain: [identity.certificate],
      config: loaded.config,
      configDocument: loaded.document,
      source: profile.source,
      signer: profile.signer,
    };
  }

  async function active(): Promise<ActiveIdentity | undefined> {
    const current = await readState();
    if (!current.active) return undefined;
    const { overlay, userName } = current.active;
    const profile = current.overlays.find((o) => o.name === overlay && o.users.includes(userName));
    if (!profile) return undefined;
    const { identity, loaded } = await loadIdentity(profile, userName, false);
    return activeOf(identity, profile, loaded);
  }

  async function notifyActive(cause: IdentityChangeCause): Promise<void> {
    let next: ActiveIdentity | undefined;
    try {
      if (cause !== 'forgotten') next = await active();
    } catch (error) {
      // Just stored, so this is rare (the keychain went away); the peer learns it when it asks for active().
      log.warn('the new active identity could not be loaded', { cause, error: describeError(error) });
      return;
    }
    for (const listener of [...activeListeners]) {
      try {
        listener(next, cause);
      } catch (error) {
        log.warn('active identity listener failed', { error });
      }
    }
  }

  async function status(): Promise<IdentityStatus> {
    const current = await readState();
    const certificates: CertificateInfo[] = [];
    for (const profile of current.overlays) {
      for (const userName of profile.users) {
        const info = await summary(profile, userName, current).catch((error: unknown) => {
          log.warn('identity certificate unreadable', { overlay: profile.name, userName, error: describeError(error) });
          return undefined;
        });
        if (info) certificates.push(info);
      }
    }
    let keychain: IdentityStatus['keychain'] = 'available';
    try {
      await credentials();
    } catch {
      keychain = 'unavailable';
    }
    return { certificates, keychain };
  }

  async function summary(
    profile: OverlayProfile,
    userName: string,
    current: Profiles,
  ): Promise<CertificateInfo | undefined> {
    const der = await readCertificateFile(certificateFile(profiles.certificatesDir, profile.name, userName));
    if (!der) return undefined;
    const nodeIdLength = await nodeIdLengthOf(profile);
    const info = readCertificate(der, profile.name, nodeIdLength);
    const id = certificateId(profile.name, userName);
    return summarizeCertificate({
      der,
      overlay: profile.name,
      userName,
      nodeIdLength,
      active: current.active?.overlay === profile.name && current.active.userName === userName,
      renewalDue: renewalDueAt(info),
      lastError: renewalErrors.get(id) ?? null,
      now: now(),
    });
  }

  /** For showing Node-IDs only: the cached document unverified is enough (it was verified when cached). */
  async function nodeIdLengthOf(profile: OverlayProfile): Promise<number> {
    if (profile.local) return localOverlayConfiguration().nodeIdLength;
    const cached = configs.get(profile.name);
    if (cached) return cached.config.nodeIdLength;
    const document = await profiles.readDocument(profile.name);
    return (document && parseConfigurationDocument(document).at(-1)?.nodeIdLength) || 16;
  }

  async function publish(): Promise<void> {
    try {
      options.emit(await status());
    } catch (error) {
      log.warn('identity status could not be published', { error });
    }
  }

  async function describe(
    profile: OverlayProfile | OverlayChoice['profile'],
    userName: string,
  ): Promise<CertificateInfo> {
    const current = await readState();
    const found = current.overlays.find((o) => o.name === profile.name) ?? { ...profile, users: [userName] };
    const info = await summary(found, userName, current);
    if (!info) throw new Error(`the certificate of ${userName} was not stored`);
    return info;
  }

  /** Makes an identity (enrolled or self-signed) with the key-pair and certificate steps reported. */
  async function make(
    choice: OverlayChoice,
    userName: string,
    action: 'enroll' | 'self-signed',
    create: (svc: IdentityService, onStep: (s: 'key-pair' | 'certificate') => void) => Promise<DeviceIdentity>,
  ): Promise<CertificateInfo> {
    const context: ErrorContext = { action, overlay: choice.config.instanceName, userName };
    let current: 'key-pair' | 'certificate' | undefined;
    const onStep = (next: 'key-pair' | 'certificate') => {
      if (current) step(current, 'done');
      current = next;
      step(next, 'active');
    };
    let identity: DeviceIdentity;
    try {
      const svc = await service();
      identity = await create(svc, onStep);
    } catch (error) {
      if (current) step(current, 'failed');
      fail(error, context);
    }
    if (current) step(current, 'done');
    await remember(choice, identity.userName);
    renewalErrors.delete(certificateId(choice.profile.name, identity.userName));
    log.info('identity created', { overlay: choice.profile.name, userName: identity.userName, how: action });
    await notifyActive('created');
    await publish();
    return describe(choice.profile, identity.userName);
  }

  async function renewOne(profile: OverlayProfile, userName: string): Promise<CertificateInfo> {
    const id = certificateId(profile.name, userName);
    const context: ErrorContext = { action: 'renew', overlay: profile.name, userName };
    try {
      const { identity, loaded } = await loadIdentity(profile, userName, true);
      try {
        await (await service()).renew(identity, loaded.config, fetchSettings.tlsCa);
      } catch (error) {
        fail(error, context);
      }
    } catch (error) {
      const mapped = toUserFacing(error, context);
      if (mapped instanceof UserFacingError) {
        renewalErrors.set(id, { code: mapped.reason, message: mapped.message, at: now().getTime() });
        await publish();
      }
      throw mapped;
    }
    renewalErrors.delete(id);
    log.info('identity renewed', { overlay: profile.name, userName });
    const current = await readState();
    if (current.active?.overlay === profile.name && current.active.userName === userName) await notifyActive('renewed');
    await publish();
    return describe(profile, userName);
  }

  async function checkRenewals(): Promise<void> {
    const current = await readState();
    for (const profile of current.overlays) {
      for (const userName of profile.users) {
        if (stopped) return;
        const der = await readCertificateFile(certificateFile(profiles.certificatesDir, profile.name, userName)).catch(
          () => undefined,
        );
        if (!der) continue;
        let due: Date;
        try {
          due = renewalDueAt(readCertificate(der, profile.name, await nodeIdLengthOf(profile)));
        } catch {
          continue;
        }
        if (now() < due) continue;
        await exclusive(() => renewOne(profile, userName)).catch((error: unknown) =>
          log.warn('automatic renewal failed', { overlay: profile.name, userName, error: describeError(error) }),
        );
      }
    }
  }

  const handlers: Pick<Handlers, IdentityChannel> = {
    'overlay.discover': async ({ source }) => {
      step('configuration', 'active');
      try {
        const found = await discoverOverlay(source, fetchSettings, now());
        const offer = offers.add(found);
        step('configuration', 'done', `sequence ${offer.sequence}`);
        return offer;
      } catch (error) {
        step('configuration', 'failed');
        fail(error, { action: 'discover', overlay: /^https:/i.test(source) ? source : source.toLowerCase() });
      }
    },

    'identity.status': () => status(),

    'identity.enroll': (request) =>
      exclusive(async () => {
        const held = heldOffer(request.overlay);
        const overlay = held.config.instanceName;
        if (held.config.enrollmentServers.length === 0)
          throw new UserFacingError(
            'enrollment-refused',
            `${overlay} has no enrollment server; it takes identities made on this device instead.`,
          );
        const userName = qualify(request.userName, overlay);
        return make(operatorChoice(held, request.overlay.acceptSigner), userName, 'enroll', (svc, onStep) =>
          svc.enroll({
            config: held.config,
            userName,
            password: request.password,
            onStep,
            ...(fetchSettings.tlsCa ? { tlsCa: fetchSettings.tlsCa } : {}),
          }),
        );
      }),

    'identity.createSelfSigned': (request) =>
      exclusive(async () => {
        let choice: OverlayChoice;
        if (request.overlay.kind === 'local') {
          choice = localChoice();
          step('configuration', 'done', 'built in');
        } else {
          const held = heldOffer(request.overlay);
          if (!held.config.selfSignedPermitted)
            throw new UserFacingError(
              'self-signed-not-permitted',
              `${held.config.instanceName} needs an account: enter the user name and password from its operator.`,
            );
          choice = operatorChoice(held, request.overlay.acceptSigner);
        }
        const userName = qualify(request.userName, choice.config.instanceName);
        return make(choice, userName, 'self-signed', (svc, onStep) =>
          svc.createSelfSigned({ config: choice.config, userName, onStep }),
        );
      }),

    'identity.renew': ({ id }) =>
      exclusive(async () => {
        const { profile, userName } = await find(id);
        return renewOne(profile, userName);
      }),

    'identity.export': async ({ id, passphrase }) => {
      const { profile, userName } = await find(id);
      const { identity } = await loadIdentity(profile, userName, true);
      try {
        const text = await (await service()).exportFile(identity, passphrase);
        return { fileName: `${userName}.reload-identity`, text };
      } catch (error) {
        fail(error, { action: 'export', overlay: profile.name, userName });
      }
    },

    'identity.import': (request) =>
      exclusive(async () => {
        let imported: ReturnType<typeof importIdentity>;
        try {
          imported = importIdentity(request.text, request.passphrase);
        } catch (error) {
          fail(error, { action: 'import' });
        }
        const certificate = imported.chain[0] as Uint8Array;
        const choice = await importTarget(request.overlay, certificate);
        const context: ErrorContext = { action: 'import', overlay: choice.profile.name };
        let identity: DeviceIdentity;
        try {
          const svc = await service();
          const validated = svc.policy(choice.config).validate(certificate);
          // The one user-name rule, in the overlay's domain, before the name becomes a file name and an account.
          checkUserName(validated.userName, { domain: choice.profile.name });
          identity = await svc.adopt(choice.config, imported.privateKey, certificate);
        } catch (error) {
          fail(error, context);
        }
        await remember(choice, identity.userName);
        renewalErrors.delete(certificateId(choice.profile.name, identity.userName));
        log.info('identity imported', { overlay: choice.profile.name, userName: identity.userName });
        await notifyActive('imported');
        await publish();
        return describe(choice.profile, identity.userName);
      }),

    'identity.forget': ({ id }) =>
      exclusive(async () => {
        const { profile, userName } = await find(id);
        try {
          await options.beforeForget?.(id);
        } catch (error) {
          // Forgetting must not depend on the overlay saying goodbye.
          log.warn('stopping the peer before forget failed; forgetting anyway', { error: describeError(error) });
        }
        try {
          await (await service()).forget(profile.name, userName);
        } catch (error) {
          fail(error, { action: 'forget', overlay: profile.name, userName });
        }
        const current = await readState();
        const wasActive = current.active?.overlay === profile.name && current.active.userName === userName;
        // The overlay's profile and configuration stay, so that an identity can be imported into it again.
        await writeState({
          ...current,
          active: wasActive ? null : current.active,
          overlays: current.overlays.map((o) =>
            o.name === profile.name ? { ...o, users: o.users.filter((u) => u !== userName) } : o,
          ),
        });
        renewalErrors.delete(id);
        log.info('identity forgotten', { overlay: profile.name, userName });
        if (wasActive) await notifyActive('forgotten');
        const next = await status();
        options.emit(next);
        return next;
      }),
  };

  /**
   * Which overlay an imported identity is for: the one named, or the first remembered overlay (or the local one)
   * whose rules the certificate passes.
   */
  async function importTarget(
    overlay: { kind: 'local' } | { kind: 'operator'; offer: string; acceptSigner: string } | undefined,
    certificate: Uint8Array,
  ): Promise<OverlayChoice> {
    if (overlay?.kind === 'local') return localChoice();
    if (overlay?.kind === 'operator') return operatorChoice(heldOffer(overlay), overlay.acceptSigner);
    const current = await readState();
    const candidates: OverlayChoice[] = [];
    for (const profile of current.overlays) {
      if (profile.local) continue;
      try {
        const { config, document } = await configOf(profile);
        const { users: _users, ...rest } = profile;
        candidates.push({ config, profile: rest, ...(document !== undefined ? { document } : {}) });
      } catch (error) {
        log.warn('remembered overlay unusable for import', { overlay: profile.name, error: describeError(error) });
      }
    }
    candidates.push(localChoice());
    let expired: unknown;
    for (const candidate of candidates) {
      try {
        clockedPolicy(candidate.config, now).validate(certificate);
        return candidate;
      } catch (error) {
        if ((error as { reason?: string }).reason === 'expired') expired ??= error;
      }
    }
    if (expired) fail(expired, { action: 'load' });
    throw new UserFacingError(
      'identity-file-invalid',
      'The identity in this file is not for an overlay this device knows; find its overlay first, then import it.',
    );
  }

  return {
    handlers,
    active,
    onActiveChanged(listener) {
      activeListeners.add(listener);
      return () => activeListeners.delete(listener);
    },
    onStep(listener) {
      stepListeners.add(listener);
      return () => stepListeners.delete(listener);
    },
    status,
    start() {
      if (timer) return;
      stopped = false;
      const check = () => {
        void checkRenewals().catch((error: unknown) =>
          log.warn('renewal check failed', { error: describeError(error) }),
        );
      };
      timer = setInterval(check, options.renewalCheckMs ?? HOUR_MS);
      timer.unref();
      check();
    },
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
