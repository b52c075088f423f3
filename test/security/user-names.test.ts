/**
 * Issue 10, item 11: one user-name rule for the operator's add-user, the enrollment server and the CA's
 * callers. A user name is a scheme-less SIP AOR and a certificate's rfc822Name: lowercase ASCII
 * `local@domain`, in the overlay's domain where there is one, with no markup, control characters or
 * look-alike Unicode, and of bounded length.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore, InvalidUserNameError } from '../../src-main/host/enrollment/account-store';
import { CliUsageError } from '../../src-main/host/cli-args';
import { runOverlayCli } from '../../src-main/host/overlay-cli';
import { startOverlayServer } from '../../src-main/host/overlay/overlay-server';
import {
  checkOverlayDomain,
  checkUserName,
  USER_NAME,
  UserNameCharacterError,
  UserNameDomainError,
  UserNameError,
  UserNameLengthError,
  UserNameSyntaxError,
} from '../../src-main/reload';
import { memoryLogger } from '../support/fixtures';
import { ALICE, attempt, OVERLAY, testOverlay, type TestOverlay } from './enrollment-support';

const GOOD = ['alice@overlay.example.org', 'a.b-c_d+e@overlay.example.org', '0@overlay.example.org'];
const BAD: [string, typeof UserNameError][] = [
  ['<img/src=x>@overlay.example.org', UserNameCharacterError],
  ['"alice"@overlay.example.org', UserNameCharacterError],
  ["al'ice@overlay.example.org", UserNameCharacterError],
  ['al&ice@overlay.example.org', UserNameCharacterError],
  ['alice\u0000@overlay.example.org', UserNameCharacterError],
  ['ali\nce@overlay.example.org', UserNameCharacterError],
  ['al ice@overlay.example.org', UserNameCharacterError],
  ['al\u202eice@overlay.example.org', UserNameCharacterError], // bidi override
  ['\u0430lice@overlay.example.org', UserNameCharacterError], // Cyrillic а
  ['alice@overlay.exаmple.org', UserNameCharacterError],
  ['Alice@overlay.example.org', UserNameCharacterError], // one spelling per name: lowercase only
  ['alice@Overlay.Example.org', UserNameCharacterError],
  ['alice%40x@overlay.example.org', UserNameCharacterError], // %-escapes would change the AOR
  ['alice', UserNameSyntaxError],
  ['alice@', UserNameSyntaxError],
  ['@overlay.example.org', UserNameSyntaxError],
  ['a@b@overlay.example.org', UserNameSyntaxError],
  ['.alice@overlay.example.org', UserNameSyntaxError],
  ['al..ice@overlay.example.org', UserNameSyntaxError],
  ['alice@overlay..example.org', UserNameSyntaxError],
  ['alice@-overlay.example.org', UserNameSyntaxError],
  ['alice@overlay.example.org.', UserNameSyntaxError],
  [`${'a'.repeat(65)}@overlay.example.org`, UserNameLengthError],
  [`a@${'b'.repeat(64)}.org`, UserNameLengthError],
  [`a@${'b.'.repeat(127)}org`, UserNameLengthError],
  ['', UserNameSyntaxError],
];

describe('the user-name rule', () => {
  it.each(GOOD)('accepts %s', (name) => {
    expect(checkUserName(name, { domain: OVERLAY })).toBe(name);
    expect(USER_NAME.test(name)).toBe(true);
  });

  it.each(BAD.map(([name, errorClass]) => [name, errorClass.name, errorClass] as const))(
    'refuses %j with %s, and USER_NAME agrees',
    (name, _className, errorClass) => {
      let error: unknown;
      try {
        checkUserName(name);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(UserNameError);
      expect(error).toBeInstanceOf(errorClass);
      expect((error as Error).name).toBe(errorClass.name);
      expect((error as UserNameError).field).toBe('username');
      expect(USER_NAME.test(name)).toBe(false);
    },
  );

  it('refuses a name outside the overlay domain, and names the field it was given', () => {
    expect(() => checkUserName('alice@evil.example', { domain: OVERLAY, field: 'add-user <user@domain>' })).toThrow(
      UserNameDomainError,
    );
    expect(() => checkUserName('alice@sub.overlay.example.org', { domain: OVERLAY })).toThrow(UserNameDomainError);
    expect(() => checkUserName('alice@evil.example', { domain: OVERLAY, field: 'add-user <user@domain>' })).toThrow(
      /^add-user <user@domain>: .*overlay\.example\.org/,
    );
  });
});

describe('add-user and enrollment use the rule', () => {
  let site: TestOverlay;
  beforeAll(async () => {
    site = await testOverlay();
  }, 60_000);
  afterAll(async () => site?.remove());

  const addUser = (name: string) => {
    let asked = 0;
    const run = runOverlayCli(
      ['add-user', name, '--password-stdin', '--dir', site.overlay.dir],
      () => undefined,
      async () => {
        asked++;
        return 'a long enough password';
      },
    );
    return run.then(
      () => ({ error: undefined, asked }),
      (error: unknown) => ({ error: error as Error, asked }),
    );
  };

  it.each([
    ['<img/src=x>@overlay.example.org', /markup|character/],
    ['alice@evil.example', /overlay\.example\.org/],
    ['Carol@overlay.example.org', /lowercase/],
  ])(
    'add-user %j is a usage error naming the argument, before the password is read',
    async (name, why) => {
      const { error, asked } = await addUser(name);
      expect(error).toBeInstanceOf(CliUsageError);
      expect(error?.message).toMatch(/^add-user <user@domain>: /);
      expect(error?.message).toMatch(why);
      expect(asked).toBe(0);
      const accounts = new AccountStore(site.overlay.path('accounts'));
      expect(accounts.hasUser(name)).toBe(false);
      accounts.close();
    },
    5_000,
  );

  it('add-user accepts a good name', async () => {
    const { error, asked } = await addUser(`carol@${OVERLAY}`);
    expect(error).toBeUndefined();
    expect(asked).toBe(1);
  }, 10_000);

  it("the account store refuses names outside the overlay's domain", async () => {
    const accounts = new AccountStore(site.overlay.path('accounts'), { domain: OVERLAY });
    await expect(accounts.addUser('dave@evil.example', 'long enough password')).rejects.toThrow(InvalidUserNameError);
    await expect(accounts.addUser('<b>@overlay.example.org', 'long enough password')).rejects.toThrow(/username/);
    accounts.close();
  });

  it('the enrollment server issues no certificate for a stored name the rule refuses', async () => {
    // An accounts database written before the rule: same password as Alice, names the rule now refuses.
    const db = new Database(site.overlay.path('accounts'));
    const copy = db.prepare(
      'INSERT INTO users (username, salt, hash, created_at) SELECT ?, salt, hash, created_at FROM users WHERE username = ?',
    );
    copy.run('<img/src=x>@overlay.example.org', ALICE.username);
    copy.run('alice@evil.example', ALICE.username);
    db.close();
    const server = await startOverlayServer(site.overlay, memoryLogger().log, { host: '127.0.0.1', port: 0 });
    try {
      for (const name of ['<img/src=x>@overlay.example.org', 'alice@evil.example']) {
        const answer = await attempt(server.port, site.caPem, name, ALICE.password);
        expect([answer.status, answer.token]).toEqual([403, 'username_not_available']);
      }
      const alice = await attempt(server.port, site.caPem, ALICE.username, ALICE.password);
      expect(alice.status).toBe(200);
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe('overlay init takes only a name the user-name rule can end in', () => {
  it.each([
    ['Overlay.Example.org', UserNameCharacterError],
    ['ov_1.example.org', UserNameCharacterError],
    ['<b>.example.org', UserNameCharacterError],
    ['-ov.example.org', UserNameSyntaxError],
    ['ov..example.org', UserNameSyntaxError],
    [`${'a'.repeat(64)}.example.org`, UserNameLengthError],
  ])('checkOverlayDomain refuses %s', (name, kind) => {
    expect(() => checkOverlayDomain(name, 'init <overlay-name>')).toThrow(kind);
  });

  it('accepts an ordinary domain', () => {
    expect(checkOverlayDomain('overlay.example.org')).toBe('overlay.example.org');
  });

  it('init refuses such a name as a usage error naming the argument, and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'init-name-'));
    const error = await runOverlayCli(['init', 'ov_1.example.org', '--dir', join(dir, 'ov')], () => undefined).then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(CliUsageError);
    expect(error.message).toContain('init <overlay-name>');
    expect(existsSync(join(dir, 'ov'))).toBe(false);
  });
});
