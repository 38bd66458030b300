import { createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import cors from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BatchBody, eventSchemas, eventTypes, shortPaths, type EventType } from '../domain/events.ts';
import { CibleError } from '../errors.ts';
import type { IngestPipeline } from '../ingestion/pipeline.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import { sendError } from './error-handler.ts';

export interface TrackingApiOptions {
  readonly pipeline: IngestPipeline;
  readonly sources: SourceRegistry;
  readonly maxTransportBytes: number;
}

/** The Segment-compatible HTTP Tracking API: `/v1/{call}`, its short paths, and SDK settings. */
export async function trackingApi(app: FastifyInstance, options: TrackingApiOptions): Promise<void> {
  // Browsers post from any site that embeds the SDK; the write key, not the origin, authenticates.
  await app.register(cors, {
    origin: true,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Content-Encoding'],
    maxAge: 86_400,
  });

  // SDKs send JSON as application/json or text/plain (the browser, to skip the preflight), often gzipped.
  // The body is read raw: the pipeline decodes it after authentication, so a bad body can be kept.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: options.maxTransportBytes },
    (_request, body, done) => done(null, body),
  );
  app.addHook('preParsing', async (request, _reply, payload) => {
    const encoding = String(request.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'identity' || encoding === '') return payload;
    let decoder: Transform;
    if (encoding === 'gzip' || encoding === 'x-gzip') decoder = createGunzip();
    else if (encoding === 'deflate') decoder = createInflate();
    else {
      throw new CibleError(
        'CIBLE_ERR_TRACKING_INVALID_ENCODING',
        `Content-Encoding "${encoding}" is not supported.`,
      );
    }
    // Fastify compares the bytes received with Content-Length: report the compressed count.
    let received = 0;
    payload.on('data', (chunk: Buffer) => {
      received += chunk.length;
      (decoder as Transform & { receivedEncodedLength?: number }).receivedEncodedLength = received;
    });
    payload.on('error', (error) => decoder.destroy(error));
    decoder.on('error', () => undefined);
    return payload.pipe(decoder);
  });

  const noValidation = () => () => true;
  const calls: readonly (EventType | 'batch')[] = [...eventTypes, 'batch'];
  for (const call of calls) {
    const paths = [
      call,
      ...Object.entries(shortPaths).flatMap(([short, long]) => (long === call ? [short] : [])),
    ];
    for (const path of paths) {
      app.post(
        `/v1/${path}`,
        {
          // The schema documents the call in OpenAPI; events are checked one by one in the pipeline,
          // so that one bad event in a batch does not sink the others.
          validatorCompiler: noValidation,
          schema: {
            tags: ['tracking'],
            summary: path === call ? `Segment ${call} call` : `Short path for /v1/${call}`,
            hide: path !== call,
            body: call === 'batch' ? BatchBody : eventSchemas[call],
          },
        },
        async (request, reply) => {
          const outcome = await options.pipeline.track({
            kind: call,
            body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
            basicWriteKey: basicWriteKey(request),
            ip: request.ip,
          });
          if (!outcome.ok) return sendError(reply, outcome.error);
          return reply.send({
            success: true,
            accepted: outcome.accepted,
            duplicates: outcome.duplicates,
            rejected: outcome.rejected,
          });
        },
      );
    }
  }

  // What the SDKs fetch before they start (browser: cdn.segment.com/v1/projects/{writeKey}/settings).
  app.get<{ Params: { writeKey: string } }>(
    '/v1/projects/:writeKey/settings',
    { schema: { tags: ['tracking'], summary: 'Settings the Segment SDKs load at start' } },
    async (request, reply) => {
      const { writeKey } = request.params;
      if (options.sources.byWriteKey(writeKey) === undefined) {
        return sendError(
          reply,
          new CibleError('CIBLE_ERR_TRACKING_UNKNOWN_WRITE_KEY', 'The write key matches no source.'),
        );
      }
      return reply.send(sdkSettings(writeKey, request.host, request.protocol));
    },
  );
}

/** Write key from `Authorization: Basic base64(writeKey:)`; the colon is optional, as in Segment. */
export function basicWriteKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? decoded : decoded.slice(0, colon);
}

export function sdkSettings(writeKey: string, host: string, protocol: string): Record<string, unknown> {
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost: `${host}/v1`,
        protocol,
        unbundledIntegrations: [],
        addBundledMetadata: true,
        maybeBundledConfigIds: {},
      },
    },
    plan: {
      track: { __default: { enabled: true, integrations: {} } },
      identify: { __default: { enabled: true } },
      group: { __default: { enabled: true } },
    },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
}
