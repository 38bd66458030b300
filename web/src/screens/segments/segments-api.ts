import { api, ApiError } from '../../api.ts';

/** The shapes of the segment, analysis and RFM answers (see docs/segments.md and docs/analysis.md). */

export interface Segment {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly text: string;
  readonly size: number;
  readonly createdAt: string | null;
  readonly updatedAt: string | null;
  readonly refreshedAt: string | null;
}

export interface ProfileCard {
  readonly id: number;
  readonly identifiers: readonly { readonly type: string; readonly value: string }[];
  readonly traits: Readonly<Record<string, unknown>>;
  readonly lastSeen: string | null;
}

export interface Preview {
  readonly size: number;
  readonly sample: readonly ProfileCard[];
}

export interface Page<T> {
  readonly rows: readonly T[];
  readonly nextCursor: number | null;
}

export interface SegmentChange {
  readonly seq: number;
  readonly event: 'Segment Entered' | 'Segment Exited';
  readonly profileId: number;
  readonly timestamp: string;
}

export interface Overlap {
  readonly segments: readonly { readonly id: string; readonly name: string; readonly size: number }[];
  readonly both: number;
  readonly onlyFirst: number;
  readonly onlySecond: number;
  readonly jaccard: number;
}

export interface TraitLift {
  readonly name: string;
  readonly value: string | boolean;
  readonly members: number;
  readonly memberShare: number;
  readonly baseShare: number;
  readonly lift: number;
}

export interface EventLift {
  readonly type: 'track' | 'page';
  readonly event: string;
  readonly members: number;
  readonly memberShare: number;
  readonly baseShare: number;
  readonly lift: number;
  readonly perMember: number;
  readonly perPerson: number;
}

export interface Distinguishing {
  readonly members: number;
  readonly base: number;
  readonly since: string;
  readonly traits: readonly TraitLift[];
  readonly events: readonly EventLift[];
}

export interface RfmGroupSummary {
  readonly name: string;
  readonly description: string;
  readonly customers: number;
  readonly share: number;
  readonly recencyDays: number | null;
  readonly frequency: number | null;
  readonly monetary: number | null;
}

export interface Rfm {
  readonly asOf: string;
  readonly event: string;
  readonly property: string;
  readonly customers: number;
  readonly groups: readonly RfmGroupSummary[];
  /** grid[r-1][f-1]. */
  readonly grid: readonly (readonly number[])[];
}

export interface RfmCustomer extends ProfileCard {
  readonly r: number;
  readonly f: number;
  readonly m: number;
  readonly recencyDays: number;
  readonly frequency: number;
  readonly monetary: number;
}

/** Who an RFM member list is of: a named group, or one cell of the grid. */
export type RfmSelection =
  | { readonly kind: 'group'; readonly group: string }
  | { readonly kind: 'cell'; readonly r: number; readonly f: number };

export const pageSize = 25;

export const segmentKeys = {
  all: ['segments'] as const,
  list: ['segments', 'list'] as const,
  one: (id: string) => ['segments', 'one', id] as const,
  preview: (rule: string) => ['segments', 'preview', rule] as const,
  members: (id: string, cursor: number | null) => ['segments', 'members', id, cursor] as const,
  changes: (id: string, cursor: number | null) => ['segments', 'changes', id, cursor] as const,
  sizes: (id: string, days: number) => ['segments', 'sizes', id, days] as const,
  overlap: (id: string, other: string) => ['segments', 'overlap', id, other] as const,
  distinguishing: (id: string) => ['segments', 'distinguishing', id] as const,
  rfm: ['segments', 'rfm'] as const,
  rfmMembers: (selection: RfmSelection, cursor: number | null) =>
    ['segments', 'rfm-members', selection, cursor] as const,
};

const path = (id: string) => `/api/segments/${encodeURIComponent(id)}`;

/** A preview, or why the rule gives none: a refused rule is an answer while typing, not a failure. */
export type PreviewResult =
  { readonly ok: true; readonly preview: Preview } | { readonly ok: false; readonly error: ApiError };

async function previewRule(rule: string): Promise<PreviewResult> {
  try {
    return { ok: true, preview: await api.post<Preview>('/api/segments/preview', { rule }) };
  } catch (error) {
    // The rule is the only input, so a 400 is about the rule (syntax, unknown segment, cycle).
    if (error instanceof ApiError && error.status === 400) return { ok: false, error };
    throw error;
  }
}

export const segmentsApi = {
  list: async () => (await api.get<{ segments: Segment[] }>('/api/segments')).segments,
  get: (id: string) => api.get<Segment>(path(id)),
  preview: previewRule,
  create: (input: SegmentInput) => api.post<Segment>('/api/segments', input),
  update: (id: string, input: SegmentInput) => api.put<Segment>(path(id), input),
  remove: (id: string) => api.delete<void>(path(id)),
  members: async (id: string, cursor: number | null): Promise<Page<ProfileCard>> => {
    const page = await api.get<{ profiles: ProfileCard[]; nextCursor: number | null }>(
      `${path(id)}/members`,
      { cursor, limit: pageSize },
    );
    return { rows: page.profiles, nextCursor: page.nextCursor };
  },
  changes: async (id: string, cursor: number | null): Promise<Page<SegmentChange>> => {
    const page = await api.get<{ events: SegmentChange[]; nextCursor: number | null }>(
      `${path(id)}/changes`,
      { cursor, limit: pageSize },
    );
    return { rows: page.events, nextCursor: page.nextCursor };
  },
  sizes: async (id: string, from: string) =>
    (await api.get<{ sizes: { day: string; size: number }[] }>(`${path(id)}/sizes`, { from })).sizes,
  overlap: (id: string, other: string) =>
    api.get<Overlap>(`${path(id)}/overlap/${encodeURIComponent(other)}`),
  distinguishing: (id: string) =>
    api.get<Distinguishing>(`/api/analysis/segments/${encodeURIComponent(id)}/distinguishing`),
  rfm: () => api.get<Rfm>('/api/analysis/rfm'),
  rfmMembers: async (selection: RfmSelection, cursor: number | null): Promise<Page<RfmCustomer>> => {
    const query =
      selection.kind === 'group' ? { group: selection.group } : { r: selection.r, f: selection.f };
    const page = await api.get<{ profiles: RfmCustomer[]; nextCursor: number | null }>(
      '/api/analysis/rfm/members',
      { ...query, cursor, limit: pageSize },
    );
    return { rows: page.profiles, nextCursor: page.nextCursor };
  },
};

export interface SegmentInput {
  readonly name: string;
  readonly description: string;
  readonly rule: string;
}

/** Where a rule does not parse, from the error's field: `rule (line 2, column 44)`. */
export interface RuleErrorPosition {
  readonly line: number;
  readonly column: number;
}

export function ruleErrorPosition(error: unknown): RuleErrorPosition | null {
  if (!(error instanceof ApiError)) return null;
  const match = /\(line (\d+), column (\d+)\)/.exec(error.body.field ?? '');
  if (match === null) return null;
  return { line: Number(match[1]), column: Number(match[2]) };
}

/** The message of a rule error without the server's lead-in, which repeats what the marker shows. */
export function ruleErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const text = message.replace(/^The rule does not parse: /, '').replace(/\.$/, '');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** How a profile is named in a table: its name, else its main identifier, else its number. */
export function profileLabel(card: ProfileCard): string {
  const { traits } = card;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const full = [text(traits.firstName), text(traits.lastName)].filter(Boolean).join(' ');
  return text(traits.name) ?? (full === '' ? undefined : full) ?? card.identifiers[0]?.value ?? `#${card.id}`;
}
