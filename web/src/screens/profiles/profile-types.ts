/** The shapes of the profile API's answers (src/api/profiles.ts), as the screens read them. */

export interface IdentifierRef {
  readonly type: string;
  readonly value: string;
}

export interface ProfileCard {
  readonly id: number;
  readonly identifiers: readonly IdentifierRef[];
  readonly traits: Readonly<Record<string, unknown>>;
  readonly lastSeen: string | null;
  readonly events: number;
}

export interface SearchPage {
  readonly profiles: readonly ProfileCard[];
  readonly nextCursor: number | null;
}

export interface ProfileIdentifier extends IdentifierRef {
  readonly firstSeen: string | null;
  readonly lastSeen: string | null;
  readonly sourceId: string;
  readonly originProfileId: number;
}

export interface ProfileTrait {
  readonly value: unknown;
  readonly sourceId: string;
  readonly at: string | null;
  readonly messageId: string;
}

export type ConsentState = 'granted' | 'denied' | 'unknown';

export interface ConsentPurpose {
  readonly state: ConsentState;
  readonly at: string | null;
  readonly sourceId: string | null;
  readonly method: string | null;
  readonly detail: string | null;
  readonly doubleOptIn?: { readonly state: 'none' | 'pending' | 'confirmed'; readonly at: string | null };
}

export interface ConsentChange {
  readonly purpose: string;
  readonly state: 'granted' | 'denied';
  readonly doubleOptIn: string | null;
  readonly at: string;
  readonly sourceId: string;
  readonly method: string;
  readonly detail: string | null;
  readonly messageId: string;
}

export interface Merge {
  readonly id: number;
  readonly at: string | null;
  readonly survivor: number;
  readonly absorbed: number;
  readonly kind: 'auto' | 'manual';
  readonly identifier: IdentifierRef | null;
  readonly sourceId: string | null;
  readonly messageId: string | null;
  readonly undoneAt: string | null;
}

export interface Profile {
  readonly id: number;
  readonly requestedId?: number;
  readonly members: readonly number[];
  readonly identifiers: readonly ProfileIdentifier[];
  readonly traits: Readonly<Record<string, ProfileTrait>>;
  readonly firstSeen: string | null;
  readonly lastSeen: string | null;
  readonly summary: {
    readonly events: number;
    readonly sessions: number;
    readonly sources: readonly string[];
    readonly channels: readonly {
      readonly sourceId: string;
      readonly channel: string | null;
      readonly library: string | null;
      readonly events: number;
      readonly lastSeen: string | null;
    }[];
    readonly purchases: number;
    readonly revenue: number;
  };
  readonly quality: {
    readonly hasValidEmail: boolean;
    readonly hasValidPhone: boolean;
    readonly stale: boolean;
    readonly staleDays: number;
    readonly suspectedDuplicates: { readonly profiles: readonly number[] } | null;
  };
  readonly consent: {
    readonly purposes: Readonly<Record<string, ConsentPurpose>>;
    readonly history: readonly ConsentChange[];
  };
  readonly computedTraits: Readonly<Record<string, unknown>>;
  readonly segments: readonly { readonly id: string; readonly name: string }[];
  readonly merges: readonly Merge[];
  /** Source id → name, for the sources the profile mentions. */
  readonly sourceNames: Readonly<Record<string, string>>;
}

export interface TimelineEvent {
  readonly seq: number;
  readonly sourceId: string;
  readonly messageId: string;
  readonly type: string;
  readonly event?: string;
  readonly name?: string;
  readonly timestamp: string;
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly traits?: Readonly<Record<string, unknown>>;
  readonly context?: Readonly<Record<string, unknown>>;
  readonly extra?: Readonly<Record<string, unknown>>;
}

export interface TimelinePage {
  readonly events: readonly TimelineEvent[];
  /** `<timestamp>.<seq>` of the page's last event. */
  readonly nextCursor: string | null;
}

export interface Erasure {
  readonly id: string;
  readonly profileId: number;
  readonly removed: Readonly<Record<string, number>>;
}

/** A trait's value as text: strings as they are, anything else as compact JSON. */
export function traitText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The person's name from their traits: `name`, or first and last name. */
export function personName(traits: Readonly<Record<string, unknown>>): string | undefined {
  const text = (key: string) => {
    const value = traits[key];
    return typeof value === 'string' && value.trim() !== '' ? value.trim().replace(/\s+/g, ' ') : undefined;
  };
  const name = text('name');
  if (name !== undefined) return name;
  const parts = [text('firstName') ?? text('first_name'), text('lastName') ?? text('last_name')];
  const joined = parts.filter((part) => part !== undefined).join(' ');
  return joined === '' ? undefined : joined;
}
