/**
 * Enrollment accounts in SQLite (better-sqlite3@12): user names with scrypt password hashes, the Node-IDs
 * each user was given (a returning user keeps them), and every certificate issued. Writes are
 * transactions; a refused request changes nothing.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import { checkUserName, UserNameError } from '../../reload';

const SCRYPT: ScryptOptions = { N: 1 << 14, r: 8, p: 1, maxmem: 64 << 20 };
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, KEY_LENGTH, SCRYPT, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

export class AccountError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(`${field}: ${message}`);
    this.name = new.target.name;
  }
}
/** The user name breaks the user-name rule (reload/identity/user-name.ts) or is outside the overlay's domain. */
export class InvalidUserNameError extends AccountError {}
/** The password is too short or too long. */
export class InvalidPasswordError extends AccountError {}
export class UserExistsError extends AccountError {}
export class UnknownUserError extends AccountError {}

export interface IssuedRecord {
  serial: string;
  username: string;
  nodeIds: string[];
  notAfter: string;
  issuedAt: string;
}

export interface AccountStoreOptions {
  /** The overlay's domain: new accounts must be in it. */
  domain?: string;
}

export class AccountStore {
  private readonly db: Database.Database;

  constructor(
    path: string,
    private readonly options: AccountStoreOptions = {},
  ) {
    this.db = new Database(path);
    // Password hashes: readable by the operator only.
    if (path !== ':memory:') chmodSync(path, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY,
        salt BLOB NOT NULL,
        hash BLOB NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS node_ids (
        username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        node_id TEXT NOT NULL UNIQUE,
        PRIMARY KEY (username, idx)
      );
      CREATE TABLE IF NOT EXISTS issued (
        serial TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        node_ids TEXT NOT NULL,
        not_after TEXT NOT NULL,
        issued_at TEXT NOT NULL
      );
    `);
  }

  close(): void {
    this.db.close();
  }

  /** The shared user-name rule, in this overlay's domain when the store knows it. */
  static checkUserName(username: string, domain?: string): void {
    try {
      checkUserName(username, domain === undefined ? {} : { domain });
    } catch (error) {
      if (error instanceof UserNameError) throw new InvalidUserNameError(error.detail, 'username');
      throw error;
    }
  }

  async addUser(username: string, password: string): Promise<void> {
    AccountStore.checkUserName(username, this.options.domain);
    if (password.length < 8 || password.length > 1024)
      throw new InvalidPasswordError('must be 8..1024 characters', 'password');
    if (this.hasUser(username)) throw new UserExistsError(`"${username}" already exists`, 'username');
    const salt = randomBytes(16);
    const hash = await scrypt(password, salt);
    try {
      this.db
        .prepare('INSERT INTO users (username, salt, hash, created_at) VALUES (?, ?, ?, ?)')
        .run(username, salt, hash, new Date().toISOString());
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        throw new UserExistsError(`"${username}" already exists`, 'username');
      throw error;
    }
  }

  hasUser(username: string): boolean {
    return this.db.prepare('SELECT 1 FROM users WHERE username = ?').get(username) !== undefined;
  }

  /** Constant-time check; false for unknown users too (the caller tells them apart only in its log). */
  async verify(username: string, password: string): Promise<'ok' | 'unknown-user' | 'wrong-password'> {
    const row = this.db.prepare('SELECT salt, hash FROM users WHERE username = ?').get(username) as
      { salt: Buffer; hash: Buffer } | undefined;
    // Hash anyway for unknown users, so timing does not reveal which user names exist.
    const hash = await scrypt(password, row?.salt ?? Buffer.alloc(16));
    if (!row) return 'unknown-user';
    return timingSafeEqual(hash, row.hash) ? 'ok' : 'wrong-password';
  }

  listUsers(): { username: string; createdAt: string; nodeIds: string[] }[] {
    const users = this.db.prepare('SELECT username, created_at AS createdAt FROM users ORDER BY username').all() as {
      username: string;
      createdAt: string;
    }[];
    return users.map((u) => ({ ...u, nodeIds: this.nodeIdsOf(u.username) }));
  }

  removeUser(username: string): void {
    const result = this.db.prepare('DELETE FROM users WHERE username = ?').run(username);
    if (result.changes === 0) throw new UnknownUserError(`"${username}" does not exist`, 'username');
  }

  nodeIdsOf(username: string): string[] {
    return (
      this.db.prepare('SELECT node_id FROM node_ids WHERE username = ? ORDER BY idx').all(username) as {
        node_id: string;
      }[]
    ).map((r) => r.node_id);
  }

  /**
   * The user's first `count` Node-IDs, creating missing ones with `fresh()` (random, chosen by the server).
   * Returns the Node-IDs and a commit function, so nothing is stored unless the certificate is issued.
   */
  reserveNodeIds(
    username: string,
    count: number,
    fresh: () => string,
  ): { nodeIds: string[]; commit: (record: Omit<IssuedRecord, 'nodeIds' | 'username'>) => void } {
    const existing = this.nodeIdsOf(username);
    const added: string[] = [];
    while (existing.length + added.length < count) added.push(fresh());
    const nodeIds = [...existing, ...added].slice(0, count);
    const commit = this.db.transaction((record: Omit<IssuedRecord, 'nodeIds' | 'username'>) => {
      const insert = this.db.prepare('INSERT INTO node_ids (username, idx, node_id) VALUES (?, ?, ?)');
      added.forEach((id, i) => insert.run(username, existing.length + i, id));
      this.db
        .prepare('INSERT INTO issued (serial, username, node_ids, not_after, issued_at) VALUES (?, ?, ?, ?, ?)')
        .run(record.serial, username, nodeIds.join(','), record.notAfter, record.issuedAt);
    });
    return { nodeIds, commit: (record) => commit(record) };
  }

  listIssued(): IssuedRecord[] {
    const rows = this.db
      .prepare('SELECT serial, username, node_ids, not_after, issued_at FROM issued ORDER BY issued_at')
      .all() as {
      serial: string;
      username: string;
      node_ids: string;
      not_after: string;
      issued_at: string;
    }[];
    return rows.map((r) => ({
      serial: r.serial,
      username: r.username,
      nodeIds: r.node_ids.split(','),
      notAfter: r.not_after,
      issuedAt: r.issued_at,
    }));
  }

  /** Everything, for tests that assert a refused request changed nothing. */
  snapshot(): unknown {
    return {
      users: this.db
        .prepare('SELECT username, hex(salt) s, hex(hash) h, created_at FROM users ORDER BY username')
        .all(),
      nodeIds: this.db.prepare('SELECT * FROM node_ids ORDER BY username, idx').all(),
      issued: this.db.prepare('SELECT * FROM issued ORDER BY serial').all(),
    };
  }
}
