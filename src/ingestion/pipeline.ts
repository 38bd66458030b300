import type { IngestConfig } from '../config/config.ts';
import type { EventType, StoredEvent } from '../domain/events.ts';
import { CibleError } from '../errors.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import type { NewQuarantineRecord, QuarantineRecord, Source } from '../store/store.ts';
import type { BatchWork, GroupCommitWriter } from './group-commit.ts';
import { hourOf, messageFingerprint, type Fingerprint, type MessageDedupe } from './message-dedupe.ts';
import { isRejection, type ItemRejection, type RejectedItem } from './outcomes.ts';
import { toStoredEvent, type ReceiveContext } from './to-stored-event.ts';
import {
  emptyIdentityChanges,
  hasIdentityChanges,
  type IdentityResolver,
  type PendingIdentityChanges,
  type ResolveOptions,
} from './resolve-identity.ts';
import { validateEvent, type ValidateOptions, type ValidEvent } from './validate-event.ts';

/** One request to the tracking API, as the HTTP layer hands it over. */
export interface TrackingRequest {
  /** The call the path names (`/v1/track` → track), or batch. */
  readonly kind: EventType | 'batch';
  /** The body, decompressed. */
  readonly body: Buffer;
  /** The write key from HTTP Basic authentication, if any. */
  readonly basicWriteKey: string | undefined;
  readonly ip: string | null;
}

export type TrackingOutcome =
  | {
      readonly ok: true;
      readonly accepted: number;
      readonly duplicates: number;
      readonly rejected: RejectedItem[];
    }
  | { readonly ok: false; readonly error: CibleError };

/**
 * An event that passed the first steps (validate → build the stored event): what de-duplication,
 * identity resolution and the commit take.
 */
export interface PreparedEvent {
  readonly stored: StoredEvent;
  readonly valid: ValidEvent;
  /** The messageId's fingerprint (`messageFingerprint`), when whoever prepared the event computed it. */
  readonly fingerprint?: Fingerprint;
}

/** Events an import prepared from the rows of a file, handed over in-process. */
export interface ImportedEvents {
  readonly source: Source;
  readonly events: readonly PreparedEvent[];
}

export type ImportedOutcome =
  | { readonly ok: true; readonly accepted: number; readonly duplicates: number }
  | { readonly ok: false; readonly error: CibleError };

export type ReplayOutcome =
  | { readonly ok: true; readonly accepted: number; readonly duplicates: number }
  | { readonly ok: false; readonly error: CibleError };

export interface IngestCounters {
  requests: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  overloaded: number;
}

export interface IngestPipeline {
  /**
   * The steps of collection, in order: check capacity → decode the body → authenticate the
   * source → check the request's limits → expand the batch → per event: validate → build the
   * stored event → de-duplicate → commit (group commit) → answer.
   */
  track(request: TrackingRequest): Promise<TrackingOutcome>;
  /**
   * Events of an import (CRM and till files), prepared by `prepareImportedEvent` beside the file:
   * the remaining steps (de-duplicate → resolve identity → commit), without HTTP. Resolves once
   * they are committed.
   */
  ingestImported(request: ImportedEvents): Promise<ImportedOutcome>;
  /** Runs a quarantined record (or a corrected version of it) through the same steps again. */
  replay(record: QuarantineRecord, correction: unknown): Promise<ReplayOutcome>;
  /**
   * Changes the identity graph on a person's word (merge, unmerge): `change` runs against the
   * resolver and records its rows; they commit through the single writer like any batch, and
   * this resolves once the store holds them.
   */
  changeIdentity<T>(change: (resolver: IdentityResolver, changes: PendingIdentityChanges) => T): Promise<T>;
  readonly counters: IngestCounters;
}

export interface IngestPipelineDeps {
  readonly sources: SourceRegistry;
  readonly writer: GroupCommitWriter;
  readonly dedupe: MessageDedupe;
  readonly limits: IngestConfig;
  readonly now: () => number;
  /** Resolves each event to a profile; without it events are stored with no profile. */
  readonly identity?: IdentityResolver;
  /** Rebuilds the identity graph from the store (after a failed commit). */
  readonly reloadIdentity?: () => Promise<void>;
}

type Processed = PreparedEvent;

interface Admitted {
  readonly events: StoredEvent[];
  readonly duplicates: number;
  readonly work: BatchWork;
}

interface Expanded {
  readonly items: unknown[];
  readonly tooMany: unknown[];
}

export function createIngestPipeline(deps: IngestPipelineDeps): IngestPipeline {
  const { limits } = deps;
  let identityStale = false;
  let reloading: Promise<void> | undefined;
  const counters: IngestCounters = { requests: 0, accepted: 0, duplicates: 0, rejected: 0, overloaded: 0 };

  async function track(request: TrackingRequest): Promise<TrackingOutcome> {
    counters.requests++;
    const receivedAt = deps.now();

    // 1. Capacity: refuse before doing any work, so that overload sheds load instead of piling up.
    if (deps.writer.pendingEvents >= limits.maxPendingEvents) {
      counters.overloaded++;
      return fail(
        new CibleError(
          'CIBLE_ERR_INGEST_OVERLOADED',
          `${deps.writer.pendingEvents} events are waiting to be written (limit ${limits.maxPendingEvents}).`,
        ),
      );
    }

    // 2. Decode.
    const text = request.body.toString('utf8');
    let body: unknown;
    let decodeError: CibleError | undefined;
    try {
      body = JSON.parse(text);
    } catch (error) {
      decodeError = new CibleError(
        'CIBLE_ERR_TRACKING_INVALID_JSON',
        `Body is not valid JSON: ${(error as Error).message}.`,
        { cause: error },
      );
    }

    // 3. Authenticate.
    const writeKey = request.basicWriteKey ?? bodyWriteKey(body);
    if (writeKey === undefined || writeKey === '') {
      return fail(
        decodeError ??
          new CibleError(
            'CIBLE_ERR_TRACKING_MISSING_WRITE_KEY',
            'No write key in the Authorization header or the body.',
          ),
      );
    }
    const source = deps.sources.byWriteKey(writeKey);
    if (source === undefined) {
      return fail(new CibleError('CIBLE_ERR_TRACKING_UNKNOWN_WRITE_KEY', 'The write key matches no source.'));
    }

    // 4. Request limits. From here on a rejected request is kept in quarantine before it is answered.
    const maxBytes = request.kind === 'batch' ? limits.maxRequestBytes : limits.maxEventBytes;
    const requestError =
      decodeError ??
      (request.body.length > maxBytes
        ? new CibleError(
            request.kind === 'batch'
              ? 'CIBLE_ERR_TRACKING_BODY_TOO_LARGE'
              : 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE',
            `Body is ${request.body.length} bytes; the limit for ${request.kind} is ${maxBytes} bytes.`,
          )
        : undefined);
    if (requestError !== undefined) {
      return keepRequest(source, request, text, receivedAt, requestError);
    }

    // 5. Expand the batch into events.
    const expanded = expand(request.kind, body);
    if (expanded instanceof CibleError) return keepRequest(source, request, text, receivedAt, expanded);

    // 6. Per event: validate, build the stored event, de-duplicate.
    const processed: Processed[] = [];
    const quarantine: NewQuarantineRecord[] = [];
    const rejected: RejectedItem[] = [];
    const hour = hourOf(receivedAt);
    const rejectItem = (index: number, item: unknown, rejection: ItemRejection): void => {
      const messageId = messageIdOf(item);
      rejected.push({
        index,
        messageId,
        code: rejection.code,
        reason: rejection.message,
        field: rejection.field,
      });
      quarantine.push({
        sourceId: source.id,
        receivedAt,
        code: rejection.code,
        reason: rejection.message,
        field: rejection.field,
        payload: JSON.stringify(item) ?? 'null',
        kind: kindOf(request.kind, item),
        batchIndex: request.kind === 'batch' ? index : null,
        messageId,
        ip: request.ip,
      });
    };
    expanded.items.forEach((item, index) => {
      const outcome = processItem(item, source, receivedAt, request.ip);
      if (isRejection(outcome)) return rejectItem(index, item, outcome);
      processed.push(outcome);
    });
    expanded.tooMany.forEach((item, offset) =>
      rejectItem(limits.maxBatchEvents + offset, item, {
        rejected: true,
        code: 'CIBLE_ERR_TRACKING_TOO_MANY_EVENTS',
        message: `Batch holds ${limits.maxBatchEvents + expanded.tooMany.length} events; only the first ${limits.maxBatchEvents} are taken.`,
        field: 'batch',
      }),
    );

    // 7. De-duplicate and resolve identity; 8. commit, and answer only once committed.
    let events: StoredEvent[];
    let duplicates: number;
    try {
      if (identityStale) await freshIdentity();
      const admitted = admit(processed, source.id, hour);
      ({ events, duplicates } = admitted);
      await deps.writer.enqueue({ ...admitted.work, quarantine });
    } catch (error) {
      return fail(storeUnavailable(error));
    }
    counters.accepted += events.length;
    counters.duplicates += duplicates;
    counters.rejected += rejected.length;
    if (request.kind !== 'batch' && rejected[0] !== undefined) {
      const only = rejected[0];
      return fail(new CibleError(only.code, only.reason, only.field === null ? {} : { field: only.field }));
    }
    return { ok: true, accepted: events.length, duplicates, rejected };
  }

  async function ingestImported(request: ImportedEvents): Promise<ImportedOutcome> {
    let admitted: Admitted;
    try {
      if (identityStale) await freshIdentity();
      admitted = admit(request.events, request.source.id, hourOf(deps.now()), importedEvents);
      await deps.writer.enqueue(admitted.work);
    } catch (error) {
      return fail(storeUnavailable(error));
    }
    counters.accepted += admitted.events.length;
    counters.duplicates += admitted.duplicates;
    return { ok: true, accepted: admitted.events.length, duplicates: admitted.duplicates };
  }

  function processItem(
    item: unknown,
    source: Source,
    receivedAt: number,
    ip: string | null,
  ): Processed | ItemRejection {
    const valid = validateEvent(item);
    if (isRejection(valid)) return valid;
    const stored = toStoredEvent(valid, {
      sourceId: source.id,
      receivedAt,
      ip,
      maxEventBytes: limits.maxEventBytes,
    });
    return isRejection(stored) ? stored : { stored, valid };
  }

  /** De-duplicates, then resolves identity, in arrival order: what the batch will commit. */
  function admit(
    processed: readonly Processed[],
    sourceId: string,
    hour: number,
    resolveOptions?: ResolveOptions,
  ): Admitted {
    if (identityStale) throw new Error('identity graph not reloaded');
    const events: StoredEvent[] = [];
    const fingerprints: Fingerprint[] = [];
    const identity = emptyIdentityChanges();
    let duplicates = 0;
    for (const prepared of processed) {
      const { stored, valid } = prepared;
      const fingerprint = prepared.fingerprint ?? messageFingerprint(sourceId, stored.messageId);
      if (deps.dedupe.checkAndAdd(fingerprint, hour)) {
        duplicates++;
        continue;
      }
      const resolved =
        deps.identity === undefined ? stored : deps.identity.resolve(stored, valid, identity, resolveOptions);
      // An event of an erased person: acknowledged like the others, stored nowhere (counted by the suppression list).
      if (resolved === undefined) continue;
      events.push(resolved);
      fingerprints.push(fingerprint);
    }
    return {
      events,
      duplicates,
      work: {
        events,
        ...(hasIdentityChanges(identity) ? { identity } : {}),
        onFailure: () => {
          for (const fingerprint of fingerprints) deps.dedupe.forget(fingerprint, hour);
          // The graph in memory is now ahead of the store: rebuild it before resolving again.
          if (deps.identity !== undefined) identityStale = true;
        },
      },
    };
  }

  /** After a failed commit, the identity graph is rebuilt from the store before anything else resolves. */
  async function freshIdentity(): Promise<void> {
    if (!identityStale || deps.reloadIdentity === undefined) return;
    reloading ??= deps.reloadIdentity().then(
      () => {
        identityStale = false;
        reloading = undefined;
      },
      (error: unknown) => {
        reloading = undefined;
        throw error;
      },
    );
    await reloading;
  }

  function expand(kind: TrackingRequest['kind'], body: unknown): Expanded | CibleError {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return new CibleError('CIBLE_ERR_TRACKING_NOT_AN_OBJECT', 'Body must be a JSON object.');
    }
    const envelope = body as Record<string, unknown>;
    if (kind !== 'batch') return { items: [{ ...envelope, type: kind }], tooMany: [] };
    if (!Array.isArray(envelope.batch)) {
      return new CibleError(
        'CIBLE_ERR_TRACKING_NOT_AN_OBJECT',
        'A batch body needs a "batch" array of events.',
        {
          field: 'batch',
        },
      );
    }
    const items = envelope.batch.map((item: unknown) => withEnvelope(item, envelope));
    return { items: items.slice(0, limits.maxBatchEvents), tooMany: items.slice(limits.maxBatchEvents) };
  }

  async function keepRequest(
    source: Source,
    request: TrackingRequest,
    text: string,
    receivedAt: number,
    error: CibleError,
  ): Promise<TrackingOutcome> {
    counters.rejected++;
    try {
      await deps.writer.enqueue({
        quarantine: [
          {
            sourceId: source.id,
            receivedAt,
            code: error.code,
            reason: error.message,
            field: error.field ?? null,
            payload: text,
            kind: request.kind,
            batchIndex: null,
            messageId: null,
            ip: request.ip,
          },
        ],
      });
    } catch (storeError) {
      return fail(storeUnavailable(storeError));
    }
    return fail(error);
  }

  async function replay(record: QuarantineRecord, correction: unknown): Promise<ReplayOutcome> {
    let body: unknown = correction;
    if (body === undefined) {
      try {
        body = JSON.parse(record.payload);
      } catch (error) {
        return fail(
          new CibleError(
            'CIBLE_ERR_QUARANTINE_STILL_INVALID',
            `The kept payload is not valid JSON (${(error as Error).message}); send a corrected event.`,
          ),
        );
      }
    }
    const source = deps.sources.byId(record.sourceId);
    if (source === undefined) {
      return fail(
        new CibleError('CIBLE_ERR_TRACKING_UNKNOWN_WRITE_KEY', `Source ${record.sourceId} no longer exists.`),
      );
    }
    // An item of a batch is replayed alone; a whole request is expanded as it was sent.
    const expanded =
      record.batchIndex !== null
        ? { items: [withType(body, record.kind)], tooMany: [] }
        : expand(record.kind as TrackingRequest['kind'], body);
    if (expanded instanceof CibleError) return fail(stillInvalid(expanded.message, expanded.field ?? null));
    if (expanded.tooMany.length > 0) {
      return fail(
        stillInvalid(
          `Batch holds ${expanded.items.length + expanded.tooMany.length} events; at most ${limits.maxBatchEvents} can be replayed at once.`,
          'batch',
        ),
      );
    }
    const processed: Processed[] = [];
    for (const [index, item] of expanded.items.entries()) {
      const outcome = processItem(item, source, record.receivedAt, record.ip);
      if (isRejection(outcome)) {
        const where = expanded.items.length > 1 ? `batch[${index}]: ` : '';
        return fail(stillInvalid(`${where}${outcome.message}`, outcome.field));
      }
      processed.push(outcome);
    }
    let admitted: Admitted;
    try {
      if (identityStale) await freshIdentity();
      admitted = admit(processed, source.id, hourOf(deps.now()));
      await deps.writer.enqueue({ ...admitted.work, replayedQuarantineIds: [record.id] });
    } catch (error) {
      return fail(storeUnavailable(error));
    }
    counters.accepted += admitted.events.length;
    return { ok: true, accepted: admitted.events.length, duplicates: admitted.duplicates };
  }

  async function changeIdentity<T>(
    change: (resolver: IdentityResolver, changes: PendingIdentityChanges) => T,
  ): Promise<T> {
    if (deps.identity === undefined) throw new Error('identity resolution is not configured');
    if (identityStale) await freshIdentity();
    const changes = emptyIdentityChanges();
    const result = change(deps.identity, changes);
    if (hasIdentityChanges(changes)) {
      await deps.writer.enqueue({
        identity: changes,
        onFailure: () => {
          identityStale = true;
        },
      });
      // Whoever asked reads the profiles next: the store must hold the change by then.
      await deps.writer.caughtUp();
    }
    return result;
  }

  return { track, ingestImported, replay, changeIdentity, counters };
}

const importValidation: ValidateOptions = { userOrAnonymousId: false };
const importedEvents: ResolveOptions = { imported: true };

/**
 * The first steps of ingestion (validate → build the stored event) for an event an import built
 * from a row. Pure: an import runs them beside the file it reads, on a thread of its own, and hands
 * the prepared events to `ingestImported`.
 */
export function prepareImportedEvent(item: unknown, receive: ReceiveContext): PreparedEvent | ItemRejection {
  const valid = validateEvent(item, importValidation);
  if (isRejection(valid)) return valid;
  const stored = toStoredEvent(valid, receive);
  return isRejection(stored) ? stored : { stored, valid };
}

/** Top-level `context`, `integrations` and `sentAt` of a batch apply to each of its events. */
function withEnvelope(item: unknown, envelope: Record<string, unknown>): unknown {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
  const event = item as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...event };
  if (isObject(envelope.context)) {
    merged.context = isObject(event.context) ? { ...envelope.context, ...event.context } : envelope.context;
  }
  if (isObject(envelope.integrations)) {
    merged.integrations = isObject(event.integrations)
      ? { ...envelope.integrations, ...event.integrations }
      : envelope.integrations;
  }
  if (event.sentAt === undefined && envelope.sentAt !== undefined) merged.sentAt = envelope.sentAt;
  delete merged.writeKey;
  return merged;
}

function withType(item: unknown, kind: string): unknown {
  return isObject(item) && item.type === undefined && kind !== 'unknown' ? { ...item, type: kind } : item;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function bodyWriteKey(body: unknown): string | undefined {
  if (!isObject(body)) return undefined;
  if (typeof body.writeKey === 'string') return body.writeKey;
  if (Array.isArray(body.batch)) {
    const first: unknown = body.batch[0];
    if (isObject(first) && typeof first.writeKey === 'string') return first.writeKey;
  }
  return undefined;
}

function messageIdOf(item: unknown): string | null {
  return isObject(item) && typeof item.messageId === 'string' ? item.messageId.slice(0, 200) : null;
}

function kindOf(kind: TrackingRequest['kind'], item: unknown): string {
  if (kind !== 'batch') return kind;
  return isObject(item) && typeof item.type === 'string' ? item.type.slice(0, 50) : 'unknown';
}

function stillInvalid(message: string, field: string | null): CibleError {
  return new CibleError('CIBLE_ERR_QUARANTINE_STILL_INVALID', message, field === null ? {} : { field });
}

function storeUnavailable(cause: unknown): CibleError {
  return new CibleError(
    'CIBLE_ERR_STORE_UNAVAILABLE',
    'The events could not be committed; nothing was kept.',
    {
      cause,
    },
  );
}

function fail(error: CibleError): { ok: false; error: CibleError } {
  return { ok: false, error };
}
