import { useQuery } from '@tanstack/react-query';
import { api } from '../../api.ts';
import type { Role } from '../../session.tsx';

/** The shapes of GET /api/users, /api/tokens and /api/audit (src/api/access.ts). */
export interface User {
  readonly id: string;
  readonly email: string;
  readonly role: Role;
  readonly createdAt: string;
  readonly disabledAt: string | null;
  readonly lockedUntil: string | null;
}

export interface Token {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
  /** A user id, a token id, or "bootstrap". */
  readonly createdBy: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

export interface AuditEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: {
    readonly type: string;
    readonly id: string | null;
    readonly name: string | null;
    readonly role: Role | null;
  };
  readonly action: string;
  readonly target: { readonly type: string; readonly id: string | null } | null;
  readonly ip: string | null;
  readonly detail: unknown;
}

export const roleList: readonly Role[] = ['admin', 'marketer', 'analyst'];

export const usersKey = ['admin', 'users'] as const;
export const tokensKey = ['admin', 'tokens'] as const;

export function useUsers() {
  return useQuery({
    queryKey: usersKey,
    queryFn: async () => (await api.get<{ users: User[] }>('/api/users')).users,
  });
}

export function useTokens() {
  return useQuery({
    queryKey: tokensKey,
    queryFn: async () => (await api.get<{ tokens: Token[] }>('/api/tokens')).tokens,
  });
}

/** The bootstrap admin token of the data directory, as the audit log and tokens name it. */
export const bootstrapId = 'bootstrap';

/** Actions the audit log records (docs/access.md), for its filter. */
export const auditActions = [
  'session.login',
  'session.login_failed',
  'session.locked',
  'session.logout',
  'access.denied',
  'user.create',
  'user.update',
  'user.delete',
  'token.create',
  'token.revoke',
  'source.create',
  'source.rotate_write_key',
  'source.revoke_write_key',
  'profile.view',
  'profile.search',
  'profile.events',
  'profile.merge',
  'profile.unmerge',
  'profile.export',
  'profile.rectify',
  'profile.erase',
  'consent.change',
  'events.export',
  'segment.create',
  'segment.update',
  'segment.delete',
  'segment.audience_export',
  'computed_trait.create',
  'computed_trait.update',
  'computed_trait.delete',
  'import.start',
  'import.cancel',
  'import.rejected_download',
  'quarantine.replay',
  'privacy.purge',
  'privacy.retention',
] as const;

/** Entries that record a refusal rather than something done. */
export const refusals: ReadonlySet<string> = new Set([
  'access.denied',
  'session.login_failed',
  'session.locked',
]);
