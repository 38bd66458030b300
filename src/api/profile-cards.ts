import type { IdentityRules } from '../domain/identity-graph.ts';
import { mergeTraits, withSourceIds, type TraitRules, type TraitValue } from '../domain/traits.ts';
import type { IdentityResolver } from '../ingestion/resolve-identity.ts';
import type { ProfileReader } from '../profiles/profile-reader.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import { parsedTrait } from '../store/store.ts';

/** Traits a card shows, when the profile has them (and the traits a search asked about). */
const cardTraits = ['name', 'firstName', 'lastName', 'email', 'phone', 'city', 'postalCode', 'address'];
const cardIdentifiers = 5;

/** A compact profile: main identifiers (by identity priority), a few traits, the latest event. */
export interface ProfileCard {
  readonly id: number;
  readonly identifiers: { type: string; value: string }[];
  readonly traits: Record<string, unknown>;
  readonly lastSeen: string | null;
  /** Every trait of the profile, merged. */
  readonly merged: Map<string, TraitValue>;
}

export interface ProfileCardsOptions {
  readonly reader: ProfileReader;
  readonly identity: IdentityResolver;
  readonly traitRules: TraitRules;
  readonly identityRules: IdentityRules;
  readonly sources: SourceRegistry;
}

/** Builds the cards of profiles (people now), in the order given; unknown ids are left out. */
export function createProfileCards(
  options: ProfileCardsOptions,
): (ids: readonly number[], extraTraits?: readonly string[]) => Promise<ProfileCard[]> {
  const rank = new Map(options.identityRules.priority.map((type, index) => [type, index]));
  return async (ids, extraTraits = []) => {
    const facts = await options.reader.factsOfMany(ids);
    const traitRules = withSourceIds(options.traitRules, options.sources.list());
    const shown = new Set([...cardTraits, ...extraTraits]);
    const graph = options.identity.graph;
    return ids.flatMap((id) => {
      const profile = facts.get(id);
      if (profile === undefined) return [];
      const merged = mergeTraits(profile.traits.map(parsedTrait), traitRules);
      const identifiers = graph
        .identifiersOf(id)
        .map(({ identifier }) => identifier)
        .sort((a, b) => (rank.get(a.type) ?? rank.size) - (rank.get(b.type) ?? rank.size))
        .slice(0, cardIdentifiers);
      return {
        id,
        identifiers: identifiers.map(({ type, value }) => ({ type, value })),
        traits: Object.fromEntries(
          [...merged.values()]
            .filter((trait) => shown.has(trait.name))
            .map((trait) => [trait.name, trait.value]),
        ),
        lastSeen: profile.summary.lastSeen === null ? null : new Date(profile.summary.lastSeen).toISOString(),
        merged,
      };
    });
  };
}
