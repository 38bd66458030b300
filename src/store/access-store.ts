import type { Role } from '../access/access-policy.ts';

/** Console users, API tokens, sessions and the audit log: the part of the store access control needs. */
export interface AccessStore {
  listUsers(): Promise<UserRecord[]>;
  /** Creates or replaces the user with this id. */
  saveUser(user: UserRecord): Promise<void>;
  deleteUser(id: string): Promise<void>;

  listTokens(): Promise<TokenRecord[]>;
  /** Creates or replaces the token with this id. */
  saveToken(token: TokenRecord): Promise<void>;

  /** Sessions not expired at `now`; expired ones are deleted. */
  listSessions(now: number): Promise<SessionRecord[]>;
  saveSession(session: SessionRecord): Promise<void>;
  deleteSessions(idHashes: readonly string[]): Promise<void>;

  /** Appends entries to the audit log, numbered in order; there is no way to change or delete one. */
  appendAudit(entries: readonly AuditEntry[]): Promise<void>;
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;
}

export interface UserRecord {
  readonly id: string;
  /** Lower-cased. */
  readonly email: string;
  readonly passwordHash: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly disabledAt: number | null;
  /** Failed sign-ins in a row since the last success. */
  readonly failedLogins: number;
  readonly lockedUntil: number | null;
}

export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** sha256 of the token, hex: tokens are random enough that no slow hash is needed. */
  readonly tokenHash: string;
  readonly createdAt: number;
  /** Who created it: a user id, a token id, or "bootstrap". */
  readonly createdBy: string;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

export interface SessionRecord {
  /** sha256 of the session id, hex: the cookie value is never stored. */
  readonly idHash: string;
  readonly userId: string;
  readonly csrfToken: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export interface AuditEntry {
  readonly at: number;
  /** `user`, `token`, `bootstrap` (the admin token of the data dir) or `anonymous` (a failed sign-in). */
  readonly actorType: 'user' | 'token' | 'bootstrap' | 'anonymous';
  readonly actorId: string | null;
  /** The user's email or the token's name, as they were then. */
  readonly actorName: string | null;
  readonly role: Role | null;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly ip: string | null;
  /** JSON object text; never personal data of the people in the base (erasure does not reach here). */
  readonly detail: string | null;
}

export interface AuditRecord extends AuditEntry {
  readonly seq: number;
}

export interface AuditQuery {
  readonly action?: string;
  readonly actorId?: string;
  readonly targetType?: string;
  readonly targetId?: string;
  /** Inclusive, ms. */
  readonly from?: number;
  /** Exclusive, ms. */
  readonly to?: number;
  /** Entries with a smaller seq (paging newest first). */
  readonly beforeSeq?: number;
  readonly limit: number;
}
