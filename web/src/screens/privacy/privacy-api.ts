import { useQuery } from '@tanstack/react-query';
import { api } from '../../api.ts';

/** The shapes of GET /api/privacy and its actions (src/api/privacy.ts). */
export type PurgeMethod = 'in-place' | 'whole-file';

export interface Erasure {
  readonly id: string;
  readonly profileId: number;
  /** A user id, a token id, or "bootstrap". */
  readonly requestedBy: string;
  readonly erasedAt: string;
  /** Rows removed, per table. */
  readonly removed: Readonly<Record<string, number>>;
  /** Null while the bytes may still sit in the files. */
  readonly purgedAt: string | null;
}

export interface RetentionRule {
  readonly days: number;
  readonly type?: string;
  readonly source?: string;
  readonly event?: string;
}

export interface RetentionRun {
  readonly at: string;
  /** Events deleted, one count per rule, in the rules' order. */
  readonly deleted: readonly number[];
}

export interface PrivacyStatus {
  readonly erasures: readonly Erasure[];
  readonly pendingPurges: number;
  readonly purgeDueAt: string | null;
  readonly lastPurge: {
    readonly at: string;
    readonly ms: number;
    readonly purged: number;
    readonly method: PurgeMethod;
  } | null;
  readonly suppressedIdentifiers: number;
  readonly droppedEvents: number;
  readonly retention: {
    readonly rules: readonly RetentionRule[];
    readonly lastRun: RetentionRun | null;
    readonly nextRunAt: string | null;
  };
}

export interface PurgeOutcome {
  readonly purged: number;
  readonly ms: number;
  /** Absent when nothing was pending. */
  readonly method?: PurgeMethod;
}

export const privacyKey = ['privacy', 'status'] as const;

export function usePrivacy() {
  return useQuery({ queryKey: privacyKey, queryFn: () => api.get<PrivacyStatus>('/api/privacy') });
}

export const purgeNow = () => api.post<PurgeOutcome>('/api/privacy/purge');
export const runRetention = () => api.post<RetentionRun>('/api/privacy/retention');

/** Who asked for an erasure, by name where the console knows them. */
export function useActorNames() {
  return useQuery({
    queryKey: ['privacy', 'actors'],
    queryFn: async () => {
      const [users, tokens] = await Promise.all([
        api.get<{ users: { id: string; email: string }[] }>('/api/users'),
        api.get<{ tokens: { id: string; name: string }[] }>('/api/tokens'),
      ]);
      return {
        users: new Map(users.users.map((user) => [user.id, user.email])),
        tokens: new Map(tokens.tokens.map((token) => [token.id, token.name])),
      };
    },
    staleTime: 60_000,
  });
}

export function totalRows(erasure: Erasure): number {
  return Object.values(erasure.removed).reduce((sum, rows) => sum + rows, 0);
}
