import type { Store } from '../store/store.ts';
import { emptyIdentityChanges, type IdentityResolver } from './resolve-identity.ts';
import type { ValidEvent } from './validate-event.ts';

export interface BackfillProfilesOptions {
  readonly store: Pick<Store, 'listEvents' | 'assignEventProfiles'>;
  readonly identity: IdentityResolver;
  /** Events resolved and committed together. */
  readonly chunkEvents?: number;
}

export interface BackfillOutcome {
  /** Events found without a profile. */
  readonly scanned: number;
  /** Of those, events that now belong to a profile. */
  readonly resolved: number;
}

/**
 * Gives a profile to the events stored without one: those written before profiles existed (an
 * older database), or whose identifiers were all refused then. Each goes through the identity
 * graph as if it arrived now, oldest first, and takes the origin profile it resolves to; the
 * profiles, identifiers, merges and traits this creates commit with the events' new profile, a
 * chunk at a time. Runs at start, before the pipeline takes events; a chunk that fails to commit
 * stops the start, and the next start carries on from the events still without a profile.
 */
export async function backfillProfiles(options: BackfillProfilesOptions): Promise<BackfillOutcome> {
  const chunkEvents = options.chunkEvents ?? 20_000;
  let afterSeq = 0;
  let scanned = 0;
  let resolved = 0;
  for (;;) {
    const rows = await options.store.listEvents({
      withoutProfile: true,
      afterSeq,
      oldestFirst: true,
      limit: chunkEvents,
    });
    if (rows.length === 0) break;
    const changes = emptyIdentityChanges();
    const assignments: { seq: number; profileId: number }[] = [];
    for (const row of rows) {
      const valid = {
        type: row.type,
        traits: row.traits === null ? undefined : (JSON.parse(row.traits) as unknown),
        context: row.context === null ? undefined : (JSON.parse(row.context) as unknown),
      } as ValidEvent;
      const profileId = options.identity.resolve(row, valid, changes)?.profileId ?? null;
      if (profileId !== null) assignments.push({ seq: row.seq, profileId });
    }
    await options.store.assignEventProfiles(assignments, changes);
    scanned += rows.length;
    resolved += assignments.length;
    afterSeq = rows[rows.length - 1]!.seq;
    if (rows.length < chunkEvents) break;
  }
  return { scanned, resolved };
}
