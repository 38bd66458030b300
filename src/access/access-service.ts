import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { CibleError } from '../errors.ts';
import type { AccessStore, SessionRecord, TokenRecord, UserRecord } from '../store/access-store.ts';
import type { Role } from './access-policy.ts';
import { decoyHash, hashPassword, verifyPassword } from './passwords.ts';

/** Who is calling: a console user, an API token, or the bootstrap admin token of the data dir. */
export interface Actor {
  readonly type: 'user' | 'token' | 'bootstrap';
  readonly id: string;
  /** The user's email or the token's name. */
  readonly name: string;
  readonly role: Role;
  /** Set when the actor came with a session cookie. */
  readonly session?: { readonly idHash: string; readonly csrfToken: string; readonly expiresAt: number };
}

export interface AccessSettings {
  readonly sessionMs: number;
  /** Failed sign-ins in a row that lock an account... */
  readonly maxFailedLogins: number;
  /** ...for this long. */
  readonly lockoutMs: number;
}

export const defaultAccessSettings: AccessSettings = {
  sessionMs: 12 * 3_600_000,
  maxFailedLogins: 5,
  lockoutMs: 15 * 60_000,
};

export type SignIn =
  | { readonly ok: true; readonly sessionId: string; readonly actor: Actor }
  | { readonly ok: false; readonly reason: 'failed' | 'disabled' }
  | {
      readonly ok: false;
      readonly reason: 'locked';
      readonly retryAfterMs: number;
      readonly justLocked: boolean;
      readonly user: UserRecord;
    };

export interface User {
  readonly id: string;
  readonly email: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly disabledAt: number | null;
  readonly lockedUntil: number | null;
}

export interface Token {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

export interface AccessService {
  /** The actor of a bearer token, or the error to answer. */
  byBearer(token: string): Actor | CibleError;
  /** The actor of a session cookie, or the error to answer. */
  bySession(sessionId: string): Actor | CibleError;
  signIn(email: string, password: string): Promise<SignIn>;
  signOut(actor: Actor): Promise<void>;

  listUsers(): User[];
  createUser(input: { email: string; password: string; role: Role }): Promise<User>;
  updateUser(id: string, change: { role?: Role; password?: string; disabled?: boolean }): Promise<User>;
  deleteUser(id: string): Promise<void>;

  listTokens(): Token[];
  /** The token's secret is in the answer and nowhere else. */
  createToken(input: { name: string; role: Role; createdBy: string }): Promise<Token & { token: string }>;
  revokeToken(id: string): Promise<Token>;
  /** Writes the last-used times gathered in memory. */
  close(): Promise<void>;
}

/**
 * Users, API tokens and sessions, held in memory (a handful of rows) and written through to the
 * store, so that checking a request costs a hash and a map look-up.
 */
export async function createAccessService(options: {
  store: AccessStore;
  bootstrapToken: string;
  settings?: AccessSettings;
  now: () => number;
}): Promise<AccessService> {
  const { store, now } = options;
  const settings = options.settings ?? defaultAccessSettings;
  const bootstrapDigest = sha256(options.bootstrapToken);
  const users = new Map((await store.listUsers()).map((user) => [user.id, user]));
  const tokens = new Map((await store.listTokens()).map((token) => [token.tokenHash, token]));
  const sessions = new Map((await store.listSessions(now())).map((session) => [session.idHash, session]));
  // Last-used times are written at most once a minute per token, not on every request.
  const lastWritten = new Map<string, number>();

  const userByEmail = (email: string): UserRecord | undefined =>
    [...users.values()].find((user) => user.email === email);

  async function saveUser(user: UserRecord): Promise<UserRecord> {
    await store.saveUser(user);
    users.set(user.id, user);
    return user;
  }

  // Last use of each token, ms: kept here (a request costs a map write) and written to the store
  // at most once a minute per token.
  const lastUsed = new Map<string, number>();
  function touch(token: TokenRecord): void {
    const at = now();
    lastUsed.set(token.id, at);
    if (at - (lastWritten.get(token.id) ?? 0) >= 60_000) {
      lastWritten.set(token.id, at);
      void store.saveToken({ ...token, lastUsedAt: at }).catch(() => undefined);
    }
  }
  const withLastUse = (token: TokenRecord): TokenRecord => ({
    ...token,
    lastUsedAt: lastUsed.get(token.id) ?? token.lastUsedAt,
  });

  // Valid bearer tokens already checked, by their text: a request then costs a map look-up rather
  // than a hash. Emptied whenever a token changes; only tokens that exist get in, so it stays small.
  const checked = new Map<string, { actor: Actor; token: TokenRecord | undefined }>();

  interface AdminCandidate {
    readonly id: string;
    readonly role: Role;
    readonly disabledAt: number | null;
  }

  /** Demoting, disabling or deleting the last active admin user would leave the console without one. */
  function keepAnAdmin(users: ReadonlyMap<string, AdminCandidate>, user: AdminCandidate): void {
    if (user.role !== 'admin' || user.disabledAt !== null) return;
    const others = [...users.values()].filter(
      (other) => other.id !== user.id && other.role === 'admin' && other.disabledAt === null,
    );
    if (others.length === 0) {
      throw new CibleError('CIBLE_ERR_USER_LAST_ADMIN', `${user.id} is the last active admin user.`, {
        field: 'id',
      });
    }
  }

  function userNotFound(id: string): CibleError {
    return new CibleError('CIBLE_ERR_USER_NOT_FOUND', `No console user ${id}.`, { field: 'id' });
  }

  function bySession(sessionId: string): Actor | CibleError {
    const session = sessions.get(sha256(sessionId).toString('hex'));
    const user = session === undefined ? undefined : users.get(session.userId);
    if (
      session === undefined ||
      session.expiresAt <= now() ||
      user === undefined ||
      user.disabledAt !== null
    ) {
      return new CibleError('CIBLE_ERR_AUTH_SESSION_EXPIRED', 'The session has expired or was closed.');
    }
    return {
      type: 'user',
      id: user.id,
      name: user.email,
      role: user.role,
      session: { idHash: session.idHash, csrfToken: session.csrfToken, expiresAt: session.expiresAt },
    };
  }

  return {
    bySession,

    byBearer(secret) {
      const known = checked.get(secret);
      if (known !== undefined) {
        if (known.token !== undefined) touch(known.token);
        return known.actor;
      }
      const digest = createHash('sha256').update(secret).digest();
      if (timingSafeEqual(digest, bootstrapDigest)) {
        const actor: Actor = { type: 'bootstrap', id: 'bootstrap', name: 'admin token', role: 'admin' };
        checked.set(secret, { actor, token: undefined });
        return actor;
      }
      const token = tokens.get(digest.toString('hex'));
      if (token === undefined) {
        return new CibleError('CIBLE_ERR_AUTH_INVALID_TOKEN', 'The bearer token is not valid.');
      }
      if (token.revokedAt !== null) {
        return new CibleError(
          'CIBLE_ERR_AUTH_TOKEN_REVOKED',
          `The API token "${token.name}" was revoked on ${new Date(token.revokedAt).toISOString()}.`,
        );
      }
      touch(token);
      const actor: Actor = { type: 'token', id: token.id, name: token.name, role: token.role };
      if (checked.size >= 10_000) checked.clear();
      checked.set(secret, { actor, token });
      return actor;
    },

    async signIn(email, password) {
      const user = userByEmail(normaliseEmail(email));
      if (user === undefined) {
        await verifyPassword(password, await decoyHash);
        return { ok: false, reason: 'failed' };
      }
      const at = now();
      if (user.lockedUntil !== null && user.lockedUntil > at) {
        return { ok: false, reason: 'locked', retryAfterMs: user.lockedUntil - at, justLocked: false, user };
      }
      if (!(await verifyPassword(password, user.passwordHash))) {
        const failedLogins = user.failedLogins + 1;
        const locks = failedLogins >= settings.maxFailedLogins;
        const failed = await saveUser({
          ...user,
          failedLogins: locks ? 0 : failedLogins,
          lockedUntil: locks ? at + settings.lockoutMs : user.lockedUntil,
        });
        return locks
          ? { ok: false, reason: 'locked', retryAfterMs: settings.lockoutMs, justLocked: true, user: failed }
          : { ok: false, reason: 'failed' };
      }
      if (user.disabledAt !== null) return { ok: false, reason: 'disabled' };
      if (user.failedLogins > 0 || user.lockedUntil !== null) {
        await saveUser({ ...user, failedLogins: 0, lockedUntil: null });
      }
      const sessionId = randomBytes(32).toString('base64url');
      const session: SessionRecord = {
        idHash: sha256(sessionId).toString('hex'),
        userId: user.id,
        csrfToken: randomBytes(24).toString('base64url'),
        createdAt: at,
        expiresAt: at + settings.sessionMs,
      };
      await store.saveSession(session);
      sessions.set(session.idHash, session);
      const actor = bySession(sessionId);
      if (actor instanceof CibleError) throw actor;
      return { ok: true, sessionId, actor };
    },

    async signOut(actor) {
      if (actor.session === undefined) return;
      sessions.delete(actor.session.idHash);
      await store.deleteSessions([actor.session.idHash]);
    },

    listUsers: () => [...users.values()].map(userView),

    async createUser(input) {
      const email = normaliseEmail(input.email);
      if (userByEmail(email) !== undefined) {
        throw new CibleError('CIBLE_ERR_USER_EMAIL_TAKEN', `A console user already has the email ${email}.`, {
          field: 'email',
        });
      }
      checkPassword(input.password);
      const user = await saveUser({
        id: `usr_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        email,
        passwordHash: await hashPassword(input.password),
        role: input.role,
        createdAt: now(),
        disabledAt: null,
        failedLogins: 0,
        lockedUntil: null,
      });
      return userView(user);
    },

    async updateUser(id, change) {
      const user = users.get(id);
      if (user === undefined) throw userNotFound(id);
      if ((change.role !== undefined && change.role !== 'admin') || change.disabled === true)
        keepAnAdmin(users, user);
      if (change.password !== undefined) checkPassword(change.password);
      const updated = await saveUser({
        ...user,
        ...(change.role === undefined ? {} : { role: change.role }),
        ...(change.password === undefined
          ? {}
          : { passwordHash: await hashPassword(change.password), failedLogins: 0, lockedUntil: null }),
        ...(change.disabled === undefined
          ? {}
          : { disabledAt: change.disabled ? (user.disabledAt ?? now()) : null }),
      });
      // A new password or a change of role closes the user's sessions: they sign in again.
      if (change.password !== undefined || change.role !== undefined || change.disabled === true) {
        await closeSessionsOf(id);
      }
      return userView(updated);
    },

    async deleteUser(id) {
      const user = users.get(id);
      if (user === undefined) throw userNotFound(id);
      keepAnAdmin(users, user);
      await closeSessionsOf(id);
      await store.deleteUser(id);
      users.delete(id);
    },

    listTokens: () => [...tokens.values()].map((token) => tokenView(withLastUse(token))),

    async createToken(input) {
      const secret = `cible_${randomBytes(32).toString('base64url')}`;
      const token: TokenRecord = {
        id: `tok_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        name: input.name,
        role: input.role,
        tokenHash: sha256(secret).toString('hex'),
        createdAt: now(),
        createdBy: input.createdBy,
        lastUsedAt: null,
        revokedAt: null,
      };
      await store.saveToken(token);
      tokens.set(token.tokenHash, token);
      checked.clear();
      return { ...tokenView(token), token: secret };
    },

    async revokeToken(id) {
      const token = [...tokens.values()].find((candidate) => candidate.id === id);
      if (token === undefined) {
        throw new CibleError('CIBLE_ERR_TOKEN_NOT_FOUND', `No API token ${id}.`, { field: 'id' });
      }
      const revoked = { ...withLastUse(token), revokedAt: token.revokedAt ?? now() };
      await store.saveToken(revoked);
      tokens.set(token.tokenHash, revoked);
      checked.clear();
      return tokenView(revoked);
    },

    async close() {
      for (const token of tokens.values()) {
        const used = lastUsed.get(token.id);
        if (used !== undefined && used > (lastWritten.get(token.id) ?? 0)) {
          await store.saveToken({ ...token, lastUsedAt: used });
        }
      }
    },
  };
  async function closeSessionsOf(userId: string): Promise<void> {
    const closed = [...sessions.values()].filter((session) => session.userId === userId);
    for (const session of closed) sessions.delete(session.idHash);
    await store.deleteSessions(closed.map((session) => session.idHash));
  }
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function checkPassword(password: string): void {
  const length = [...password].length;
  if (length < 12 || length > 200) {
    throw new CibleError(
      'CIBLE_ERR_USER_INVALID_PASSWORD',
      `The password has ${length} characters; it needs 12 to 200.`,
      { field: 'password' },
    );
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function userView(user: UserRecord): User {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    createdAt: user.createdAt,
    disabledAt: user.disabledAt,
    lockedUntil: user.lockedUntil,
  };
}

function tokenView(token: TokenRecord): Token {
  return {
    id: token.id,
    name: token.name,
    role: token.role,
    createdAt: token.createdAt,
    createdBy: token.createdBy,
    lastUsedAt: token.lastUsedAt,
    revokedAt: token.revokedAt,
  };
}
