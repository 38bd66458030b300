import { randomUUID } from 'node:crypto';
import { knownEventFields, type StoredEvent } from '../domain/events.ts';
import type { ItemRejection } from './outcomes.ts';
import type { ValidEvent } from './validate-event.ts';

export interface ReceiveContext {
  readonly sourceId: string;
  /** When the server received the request, in ms. */
  readonly receivedAt: number;
  /** The address the request came from. */
  readonly ip: string | null;
  readonly maxEventBytes: number;
}

/**
 * Turns a valid Segment event into the row Cible stores: the server sets `receivedAt`, corrects
 * `timestamp` for the client's clock skew, fills `context.ip` from the request when the client
 * did not, assigns a `messageId` if there is none, and checks the event's size.
 */
export function toStoredEvent(event: ValidEvent, receive: ReceiveContext): StoredEvent | ItemRejection {
  const sentAt = parseTime(event.sentAt);
  const originalTimestamp = parseTime(event.originalTimestamp ?? event.timestamp);
  const timestamp = correctTimestamp(receive.receivedAt, sentAt, originalTimestamp);

  let context = event.context as Record<string, unknown> | undefined;
  if (receive.ip !== null && (context === undefined || context.ip === undefined)) {
    context = { ...context, ip: receive.ip };
  }
  let extra: Record<string, unknown> | undefined;
  for (const key in event) {
    // A null prototype, so that a field named "__proto__" is kept like any other.
    if (!knownEventFields.has(key))
      (extra ??= Object.create(null) as Record<string, unknown>)[key] = event[key];
  }

  const stored: StoredEvent = {
    sourceId: receive.sourceId,
    messageId: typeof event.messageId === 'string' ? event.messageId : `cible-${randomUUID()}`,
    type: event.type,
    event: typeof event.event === 'string' ? event.event : null,
    name: typeof event.name === 'string' ? event.name : null,
    userId: idString(event.userId),
    anonymousId: idString(event.anonymousId),
    groupId: idString(event.groupId),
    previousId: idString(event.previousId),
    timestamp,
    originalTimestamp,
    sentAt,
    receivedAt: receive.receivedAt,
    properties: json(event.properties),
    traits: json(event.traits),
    context: json(context),
    integrations: json(event.integrations),
    extra: json(extra),
    profileId: null,
  };
  const bytes = approximateBytes(stored, receive.maxEventBytes);
  if (bytes > receive.maxEventBytes) {
    return {
      rejected: true,
      code: 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE',
      message: `Event is ${bytes} bytes of JSON; the limit is ${receive.maxEventBytes} bytes.`,
      field: null,
    };
  }
  return stored;
}

/** Segment's rule: timestamp = receivedAt − (sentAt − originalTimestamp). */
export function correctTimestamp(receivedAt: number, sentAt: number | null, original: number | null): number {
  if (original === null) return receivedAt;
  if (sentAt === null) return original;
  return receivedAt - (sentAt - original);
}

function parseTime(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

function idString(value: unknown): string | null {
  if (typeof value === 'string') return value.length > 0 ? value : null;
  if (typeof value === 'number') return String(value);
  return null;
}

function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/** The size of the event's JSON: exact for the objects, which dominate, plus its scalar fields. */
function approximateBytes(event: StoredEvent, limit: number): number {
  const parts = [
    event.properties,
    event.traits,
    event.context,
    event.integrations,
    event.extra,
    event.messageId,
    event.event,
    event.name,
    event.userId,
    event.anonymousId,
    event.groupId,
    event.previousId,
  ];
  let units = 200;
  for (const part of parts) if (part !== null) units += part.length;
  // A UTF-16 unit is at most 3 bytes of UTF-8: count bytes only when that could cross the limit.
  if (units * 3 <= limit) return units;
  let bytes = 200;
  for (const part of parts) if (part !== null) bytes += Buffer.byteLength(part);
  return bytes;
}
