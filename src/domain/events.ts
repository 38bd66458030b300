import { Type, type Static, type TSchema } from 'typebox';

/** The six calls of the Segment spec. */
export const eventTypes = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof eventTypes)[number];

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (eventTypes as readonly string[]).includes(value);
}

/** Short paths used by the SDKs (`/v1/t`) mapped to the call they stand for. */
export const shortPaths: Readonly<Record<string, EventType | 'batch'>> = {
  i: 'identify',
  t: 'track',
  p: 'page',
  s: 'screen',
  g: 'group',
  a: 'alias',
  b: 'batch',
};

const Id = Type.Union([Type.String({ minLength: 1 }), Type.Number()], {
  description: 'A string (numbers are accepted and stored as strings).',
});
const Timestamp = Type.String({ format: 'iso-timestamp', description: 'ISO-8601 date and time.' });
const JsonObject = Type.Record(Type.String(), Type.Unknown());

const common = {
  type: Type.Optional(Type.String({ description: 'identify, track, page, screen, group or alias.' })),
  messageId: Type.Optional(
    Type.String({ minLength: 1, maxLength: 100, description: 'Unique per event; the de-duplication key.' }),
  ),
  userId: Type.Optional(Type.Union([Id, Type.Null()])),
  anonymousId: Type.Optional(Type.Union([Id, Type.Null()])),
  timestamp: Type.Optional(Timestamp),
  originalTimestamp: Type.Optional(Timestamp),
  sentAt: Type.Optional(Timestamp),
  context: Type.Optional(JsonObject),
  integrations: Type.Optional(JsonObject),
  writeKey: Type.Optional(Type.String()),
};

/** One schema per call: the runtime check of each event and the OpenAPI description of the tracking API. */
export const eventSchemas = {
  identify: Type.Object({ ...common, traits: Type.Optional(JsonObject) }),
  track: Type.Object({
    ...common,
    event: Type.String({ minLength: 1, description: 'The name of the action, e.g. "Order Completed".' }),
    properties: Type.Optional(JsonObject),
  }),
  page: Type.Object({
    ...common,
    name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    category: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    properties: Type.Optional(JsonObject),
  }),
  screen: Type.Object({
    ...common,
    name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    category: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    properties: Type.Optional(JsonObject),
  }),
  group: Type.Object({ ...common, groupId: Id, traits: Type.Optional(JsonObject) }),
  alias: Type.Object({ ...common, previousId: Id, userId: Id }),
} satisfies Record<EventType, TSchema>;

export const BatchBody = Type.Object({
  batch: Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true }), {
    description: 'Events of any type, each with its "type". At most 2,500.',
  }),
  context: Type.Optional(JsonObject),
  integrations: Type.Optional(JsonObject),
  writeKey: Type.Optional(Type.String()),
  sentAt: Type.Optional(Timestamp),
});

export type IdentifyEvent = Static<typeof eventSchemas.identify>;
export type TrackEvent = Static<typeof eventSchemas.track>;

/**
 * An event as Cible stores it: the Segment fields with typed columns for the ones every query
 * uses, and JSON text for the free-form objects.
 */
export interface StoredEvent {
  readonly sourceId: string;
  readonly messageId: string;
  readonly type: EventType;
  /** track: the event name. */
  readonly event: string | null;
  /** page and screen: the page or screen name. */
  readonly name: string | null;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly groupId: string | null;
  readonly previousId: string | null;
  /** Milliseconds since the epoch, corrected for the client's clock skew. */
  readonly timestamp: number;
  readonly originalTimestamp: number | null;
  readonly sentAt: number | null;
  readonly receivedAt: number;
  /** JSON text, or null when absent. */
  readonly properties: string | null;
  readonly traits: string | null;
  readonly context: string | null;
  readonly integrations: string | null;
  /** Top-level fields outside the spec (SDK metadata, `channel`, page `category`...), kept as JSON. */
  readonly extra: string | null;
  /** The origin profile of the event's highest-priority identifier (see the identity graph); null before resolution. */
  readonly profileId: number | null;
}

/** The spec's top-level fields that hold one value (an id, a name, a time). */
export const scalarEventFields: ReadonlySet<string> = new Set([
  'type',
  'messageId',
  'event',
  'name',
  'userId',
  'anonymousId',
  'groupId',
  'previousId',
  'timestamp',
  'originalTimestamp',
  'sentAt',
  'receivedAt',
]);

/** The fields a StoredEvent fills from typed columns; anything else lands in `extra`. */
export const knownEventFields: ReadonlySet<string> = new Set([
  ...scalarEventFields,
  'properties',
  'traits',
  'context',
  'integrations',
  'writeKey',
]);

/** The shape an event is read back as through the admin API. */
export const EventOutput = Type.Object({
  seq: Type.Number(),
  sourceId: Type.String(),
  messageId: Type.String(),
  type: Type.String(),
  event: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  userId: Type.Optional(Type.String()),
  anonymousId: Type.Optional(Type.String()),
  groupId: Type.Optional(Type.String()),
  previousId: Type.Optional(Type.String()),
  timestamp: Type.String(),
  originalTimestamp: Type.Optional(Type.String()),
  sentAt: Type.Optional(Type.String()),
  receivedAt: Type.String(),
  properties: Type.Optional(JsonObject),
  traits: Type.Optional(JsonObject),
  context: Type.Optional(JsonObject),
  integrations: Type.Optional(JsonObject),
  extra: Type.Optional(JsonObject),
  profileId: Type.Optional(
    Type.Number({ description: 'The profile the event belongs to now (follows merges).' }),
  ),
});
export type EventOutput = Static<typeof EventOutput>;
