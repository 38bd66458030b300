import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { EventOutput, eventTypes } from '../domain/events.ts';
import { CibleError } from '../errors.ts';
import type { GroupCommitWriter } from '../ingestion/group-commit.ts';
import type { MessageDedupe } from '../ingestion/message-dedupe.ts';
import type { IngestPipeline } from '../ingestion/pipeline.ts';
import type { IdentityResolver } from '../ingestion/resolve-identity.ts';
import type { ProfileReader } from '../profiles/profile-reader.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import type { EventRow, QuarantineRecord, Source, Store } from '../store/store.ts';
import { sendError } from './error-handler.ts';
import { nextCursor } from './pages.ts';

export interface AdminApiOptions {
  readonly store: Store;
  readonly sources: SourceRegistry;
  readonly pipeline: IngestPipeline;
  readonly writer: GroupCommitWriter;
  readonly dedupe: MessageDedupe;
  readonly startedAt: number;
  readonly identity: IdentityResolver;
  readonly reader: ProfileReader;
}

const SourceOutput = Type.Object({
  id: Type.String(),
  name: Type.String(),
  writeKey: Type.String(),
  createdAt: Type.String({ description: 'ISO-8601' }),
  revokedAt: Type.Union([Type.String(), Type.Null()], { description: 'When the write key was revoked.' }),
});

const QuarantineOutput = Type.Object({
  id: Type.Number(),
  sourceId: Type.String(),
  receivedAt: Type.String(),
  code: Type.String(),
  reason: Type.String(),
  field: Type.Union([Type.String(), Type.Null()]),
  kind: Type.String(),
  batchIndex: Type.Union([Type.Number(), Type.Null()]),
  messageId: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  replayedAt: Type.Union([Type.String(), Type.Null()]),
  payload: Type.String({ description: 'The rejected JSON, as received.' }),
});

const ErrorOutput = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String()),
    hint: Type.String(),
  }),
});

const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });
const Cursor = Type.Integer({ minimum: 1, description: 'nextCursor of the previous page.' });

/** The admin REST API under /api: bearer token, JSON Schemas that validate and document. */
export async function adminApi(fastify: FastifyInstance, options: AdminApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  const security = [{ bearerAuth: [] }];

  app.post(
    '/api/sources',
    {
      schema: {
        tags: ['sources'],
        summary: 'Create a source and its write key',
        security,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 201: SourceOutput, 400: ErrorOutput },
      },
    },
    async (request, reply) => {
      const source = await options.sources.create(request.body.name.trim());
      return reply.code(201).send(sourceOutput(source));
    },
  );

  const rotate = (revoke: boolean) => async (request: { params: { id: string } }) => {
    const { id } = request.params;
    const source = revoke
      ? await options.sources.revokeWriteKey(id)
      : await options.sources.rotateWriteKey(id);
    if (source === undefined) {
      throw new CibleError('CIBLE_ERR_SOURCE_NOT_FOUND', `No source ${id}.`, { field: 'id' });
    }
    return sourceOutput(source);
  };

  app.post(
    '/api/sources/:id/write-key',
    {
      schema: {
        tags: ['sources'],
        summary: 'Give the source a new write key; the old one is refused from now on',
        security,
        params: Type.Object({ id: Type.String() }),
        response: { 200: SourceOutput, 404: ErrorOutput },
      },
    },
    rotate(false),
  );

  app.delete(
    '/api/sources/:id/write-key',
    {
      schema: {
        tags: ['sources'],
        summary: 'Revoke the write key: events sent with it are refused (a new key works again)',
        security,
        params: Type.Object({ id: Type.String() }),
        response: { 200: SourceOutput, 404: ErrorOutput },
      },
    },
    rotate(true),
  );

  app.get(
    '/api/sources',
    {
      schema: {
        tags: ['sources'],
        summary: 'List sources',
        security,
        response: { 200: Type.Object({ sources: Type.Array(SourceOutput) }) },
      },
    },
    async () => ({ sources: options.sources.list().map(sourceOutput) }),
  );

  app.get(
    '/api/events',
    {
      schema: {
        tags: ['events'],
        summary: 'List stored events, newest first',
        security,
        querystring: Type.Object({
          type: Type.Optional(Type.Union(eventTypes.map((type) => Type.Literal(type)))),
          event: Type.Optional(Type.String()),
          userId: Type.Optional(Type.String()),
          anonymousId: Type.Optional(Type.String()),
          sourceId: Type.Optional(Type.String()),
          from: Type.Optional(Type.String({ format: 'date-time', description: 'Event time, inclusive.' })),
          to: Type.Optional(Type.String({ format: 'date-time', description: 'Event time, exclusive.' })),
          limit: Limit,
          cursor: Type.Optional(Cursor),
          after: Type.Optional(
            Type.Integer({
              minimum: 0,
              description:
                'Only events stored after this seq: a live view asks for what is new since the newest event it holds.',
            }),
          ),
        }),
        response: {
          200: Type.Object({
            events: Type.Array(EventOutput),
            nextCursor: Type.Union([Type.Number(), Type.Null()]),
          }),
        },
      },
    },
    async (request) => {
      const query = request.query;
      const rows = await options.store.listEvents({
        ...(query.type === undefined ? {} : { type: query.type }),
        ...(query.event === undefined ? {} : { event: query.event }),
        ...(query.userId === undefined ? {} : { userId: query.userId }),
        ...(query.anonymousId === undefined ? {} : { anonymousId: query.anonymousId }),
        ...(query.sourceId === undefined ? {} : { sourceId: query.sourceId }),
        ...(query.from === undefined ? {} : { from: Date.parse(query.from) }),
        ...(query.to === undefined ? {} : { to: Date.parse(query.to) }),
        ...(query.cursor === undefined ? {} : { beforeSeq: query.cursor }),
        ...(query.after === undefined ? {} : { afterSeq: query.after }),
        limit: query.limit,
      });
      return {
        events: rows.map(eventOutput),
        nextCursor: nextCursor(rows, query.limit, (row) => row.seq),
      };
    },
  );

  app.get(
    '/api/stats',
    { schema: { tags: ['stats'], summary: 'Counts and pipeline state', security } },
    async () => {
      const [events, quarantine, storeMemory] = await Promise.all([
        options.store.countEvents(),
        options.store.countQuarantine(),
        options.store.memoryUsage(),
      ]);
      const memory = process.memoryUsage();
      return {
        events,
        profiles: options.identity.graph.personCount,
        identifiers: options.identity.graph.identifierCount,
        profileDocuments: options.reader.stats(),
        sources: options.sources.list().length,
        quarantine,
        ingest: {
          ...options.pipeline.counters,
          pendingEvents: options.writer.pendingEvents,
          commits: options.writer.stats.commits,
          failedCommits: options.writer.stats.failedCommits,
          lastCommitMs: Math.round(options.writer.stats.lastCommitMs * 100) / 100,
          lastBatchEvents: options.writer.stats.lastBatchEvents,
          storeWrites: options.writer.stats.storeWrites,
          failedStoreWrites: options.writer.stats.failedStoreWrites,
          lastStoreWriteMs: Math.round(options.writer.stats.lastStoreWriteMs * 100) / 100,
          lastStoreWriteEvents: options.writer.stats.lastStoreWriteEvents,
          dedupeWindowMessages: options.dedupe.size,
        },
        consent: { unknownCategories: options.identity.unknownConsentCategories() },
        memory: {
          rssBytes: memory.rss,
          heapUsedBytes: memory.heapUsed,
          heapTotalBytes: memory.heapTotal,
          externalBytes: memory.external,
          arrayBuffersBytes: memory.arrayBuffers,
          store: storeMemory,
        },
        uptimeSeconds: Math.round((Date.now() - options.startedAt) / 1000),
      };
    },
  );

  app.get(
    '/api/quarantine',
    {
      schema: {
        tags: ['quarantine'],
        summary: 'List rejected events and requests, with the reason, newest first',
        security,
        querystring: Type.Object({
          status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('replayed')])),
          sourceId: Type.Optional(Type.String()),
          code: Type.Optional(Type.String()),
          limit: Limit,
          cursor: Type.Optional(Cursor),
        }),
        response: {
          200: Type.Object({
            records: Type.Array(QuarantineOutput),
            nextCursor: Type.Union([Type.Number(), Type.Null()]),
          }),
        },
      },
    },
    async (request) => {
      const { status, sourceId, code, limit, cursor } = request.query;
      const records = await options.store.listQuarantine({
        ...(status === undefined ? {} : { status }),
        ...(sourceId === undefined ? {} : { sourceId }),
        ...(code === undefined ? {} : { code }),
        ...(cursor === undefined ? {} : { beforeId: cursor }),
        limit,
      });
      return {
        records: records.map(quarantineOutput),
        nextCursor: nextCursor(records, limit, (record) => record.id),
      };
    },
  );

  app.get(
    '/api/quarantine/:id',
    {
      schema: {
        tags: ['quarantine'],
        summary: 'One quarantined record',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        response: { 200: QuarantineOutput, 404: ErrorOutput },
      },
    },
    async (request, reply) => {
      const record = await options.store.getQuarantine(request.params.id);
      if (record === undefined) return sendError(reply, quarantineNotFound(request.params.id));
      return quarantineOutput(record);
    },
  );

  app.post(
    '/api/quarantine/replay',
    {
      schema: {
        tags: ['quarantine'],
        summary: 'Replay pending records as kept (after a fix on the server side), oldest first',
        security,
        body: Type.Object({
          code: Type.Optional(Type.String()),
          sourceId: Type.Optional(Type.String()),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 1000 }),
        }),
        response: {
          200: Type.Object({
            replayed: Type.Number({ description: 'Records now stored.' }),
            accepted: Type.Number(),
            duplicates: Type.Number(),
            stillInvalid: Type.Array(
              Type.Object({ id: Type.Number(), code: Type.String(), reason: Type.String() }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const { code, sourceId, limit } = request.body;
      const records = await options.store.listQuarantine({
        status: 'pending',
        ...(code === undefined ? {} : { code }),
        ...(sourceId === undefined ? {} : { sourceId }),
        limit,
      });
      // Replayed together, the records share micro-batches instead of waiting for one commit each.
      const outcomes = await Promise.all(
        records.reverse().map((record) => options.pipeline.replay(record, undefined)),
      );
      const result = {
        replayed: 0,
        accepted: 0,
        duplicates: 0,
        stillInvalid: [] as { id: number; code: string; reason: string }[],
      };
      outcomes.forEach((outcome, index) => {
        if (outcome.ok) {
          result.replayed++;
          result.accepted += outcome.accepted;
          result.duplicates += outcome.duplicates;
        } else {
          result.stillInvalid.push({
            id: records[index]!.id,
            code: outcome.error.code,
            reason: outcome.error.message,
          });
        }
      });
      return result;
    },
  );

  app.post(
    '/api/quarantine/:id/replay',
    {
      schema: {
        tags: ['quarantine'],
        summary: 'Run a quarantined record through the pipeline again, as kept or corrected',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        // No body replays the record as kept.
        body: Type.Union([
          Type.Object({
            event: Type.Optional(
              Type.Unknown({
                description: 'A corrected payload (an event, or a whole batch body) to use instead.',
              }),
            ),
          }),
          Type.Null(),
        ]),
        response: {
          200: Type.Object({
            status: Type.Literal('replayed'),
            accepted: Type.Number(),
            duplicates: Type.Number(),
          }),
          404: ErrorOutput,
          409: ErrorOutput,
          422: ErrorOutput,
        },
      },
    },
    async (request, reply) => {
      const record = await options.store.getQuarantine(request.params.id);
      if (record === undefined) return sendError(reply, quarantineNotFound(request.params.id));
      if (record.status === 'replayed') {
        return sendError(
          reply,
          new CibleError(
            'CIBLE_ERR_QUARANTINE_ALREADY_REPLAYED',
            `Quarantined record ${record.id} was already replayed.`,
          ),
        );
      }
      const outcome = await options.pipeline.replay(record, request.body?.event);
      if (!outcome.ok) return sendError(reply, outcome.error);
      return { status: 'replayed' as const, accepted: outcome.accepted, duplicates: outcome.duplicates };
    },
  );
}

function quarantineNotFound(id: number): CibleError {
  return new CibleError('CIBLE_ERR_QUARANTINE_NOT_FOUND', `No quarantined record ${id}.`, { field: 'id' });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function sourceOutput(source: Source) {
  return {
    id: source.id,
    name: source.name,
    writeKey: source.writeKey,
    createdAt: iso(source.createdAt),
    revokedAt: source.revokedAt === null ? null : iso(source.revokedAt),
  };
}

export function eventOutput(row: EventRow): EventOutput {
  const output: Record<string, unknown> = {
    seq: row.seq,
    sourceId: row.sourceId,
    messageId: row.messageId,
    type: row.type,
    timestamp: iso(row.timestamp),
    receivedAt: iso(row.receivedAt),
  };
  const optional = {
    event: row.event,
    name: row.name,
    userId: row.userId,
    anonymousId: row.anonymousId,
    groupId: row.groupId,
    previousId: row.previousId,
  };
  for (const [key, value] of Object.entries(optional)) if (value !== null) output[key] = value;
  if (row.originalTimestamp !== null) output.originalTimestamp = iso(row.originalTimestamp);
  if (row.sentAt !== null) output.sentAt = iso(row.sentAt);
  if (row.profileId !== null) output.profileId = row.profileId;
  const objects = {
    properties: row.properties,
    traits: row.traits,
    context: row.context,
    integrations: row.integrations,
    extra: row.extra,
  };
  for (const [key, value] of Object.entries(objects))
    if (value !== null) output[key] = JSON.parse(value) as unknown;
  return output as EventOutput;
}

function quarantineOutput(record: QuarantineRecord) {
  return {
    id: record.id,
    sourceId: record.sourceId,
    receivedAt: iso(record.receivedAt),
    code: record.code,
    reason: record.reason,
    field: record.field,
    kind: record.kind,
    batchIndex: record.batchIndex,
    messageId: record.messageId,
    status: record.status,
    replayedAt: record.replayedAt === null ? null : iso(record.replayedAt),
    payload: record.payload,
  };
}
