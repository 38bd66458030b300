import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config/config.ts';
import cookie from '@fastify/cookie';
import { accessApi, accessControl } from './api/access.ts';
import { adminApi } from './api/admin.ts';
import type { AccessService } from './access/access-service.ts';
import type { AuditLog } from './access/audit-log.ts';
import type { Pseudonymiser } from './access/pseudonymise.ts';
import { privacyApi } from './api/privacy.ts';
import { exportsApi } from './api/exports.ts';
import type { ErasureService } from './privacy/erasure-service.ts';
import type { Retention } from './privacy/retention.ts';
import { importsApi } from './api/imports.ts';
import { profilesApi } from './api/profiles.ts';
import { segmentsApi } from './api/segments.ts';
import { computedTraitsApi } from './api/computed-traits.ts';
import { analysisApi } from './api/analysis.ts';
import type { SegmentService } from './segments/segment-service.ts';
import { qualityApi } from './api/quality.ts';
import { overviewApi } from './api/overview.ts';
import type { IdentifierRules } from './domain/identifiers.ts';
import type { IdentityRules } from './domain/identity-graph.ts';
import type { TraitRules } from './domain/traits.ts';
import type { ImportJobs } from './imports/import-jobs.ts';
import type { IdentityResolver } from './ingestion/resolve-identity.ts';
import { installErrorHandler } from './api/error-handler.ts';
import { trackingApi } from './api/tracking.ts';
import { consoleApp } from './api/console.ts';
import type { GroupCommitWriter } from './ingestion/group-commit.ts';
import type { MessageDedupe } from './ingestion/message-dedupe.ts';
import type { IngestPipeline } from './ingestion/pipeline.ts';
import type { ProfileReader } from './profiles/profile-reader.ts';
import type { SourceRegistry } from './sources/source-registry.ts';
import type { Store } from './store/store.ts';

export interface AppDeps {
  readonly config: Config;
  readonly store: Store;
  readonly sources: SourceRegistry;
  readonly pipeline: IngestPipeline;
  readonly writer: GroupCommitWriter;
  readonly dedupe: MessageDedupe;
  readonly access: AccessService;
  readonly audit: AuditLog;
  readonly pseudonymiser: Pseudonymiser;
  /** Erasure and purge; without it the privacy routes are absent. */
  readonly erasure?: ErasureService;
  /** The retention job of raw events. */
  readonly retention?: Retention;
  readonly identity: IdentityResolver;
  readonly reader: ProfileReader;
  readonly identifierRules: IdentifierRules;
  readonly traitRules: TraitRules;
  readonly identityRules: IdentityRules;
  /** CRM and till file imports; without them the /api/imports routes are absent. */
  readonly imports?: ImportJobs;
  /** Saved segments; without them the /api/segments routes are absent. */
  readonly segments?: SegmentService;
  /** The console's production build, served at `/`; without it `/` has no page. */
  readonly consoleRoot?: string;
  readonly logger?: FastifyServerOptions['logger'];
  readonly now?: () => number;
}

const segmentRoutes = ['/api/segments', '/api/computed-traits', '/api/analysis'];

/** Builds the HTTP application from its dependencies. Reads no environment, opens no socket. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    trustProxy: deps.config.trustProxy,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, useDefaults: true } },
    // One log line per request would cost more than the request at ingest rates.
    logController: new LogController({ disableRequestLogging: true }),
  });
  installErrorHandler(app);
  const now = deps.now ?? Date.now;
  await app.register(cookie);
  // Every /api route below is checked against src/access/access-policy.ts.
  await app.register(accessControl, {
    access: deps.access,
    audit: deps.audit,
    pseudonymiser: deps.pseudonymiser,
    now,
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Cible API',
        version: '1',
        description:
          'Segment-compatible tracking API (/v1, write keys) and the admin API (/api: bearer token or session cookie, roles in docs/access.md). ' +
          'Errors answer {"error": {"code", "message", "field"?, "hint"}}.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer' },
          writeKey: {
            type: 'http',
            scheme: 'basic',
            description: 'Write key as the user name, empty password.',
          },
        },
      },
    },
  });

  // What was acknowledged can be read back: admin requests wait until the store holds it
  // (usually already so; during a store pause, up to a second).
  app.addHook('preHandler', async (request) => {
    if (request.url.startsWith('/api/')) await deps.writer.caughtUp();
    // Segment routes also wait for the segments what was acknowledged changed (one evaluation round);
    // profile reads do not, to stay as fast as a look-up (they show the memberships of the last round).
    if (segmentRoutes.some((prefix) => request.url.startsWith(prefix))) await deps.segments?.settled();
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(trackingApi, {
    pipeline: deps.pipeline,
    sources: deps.sources,
    maxTransportBytes: deps.config.ingest.maxTransportBytes,
  });
  await app.register(accessApi, {
    access: deps.access,
    audit: deps.audit,
    store: deps.store,
    cookieSecure: deps.config.access.cookieSecure,
    signInsPerMinute: deps.config.access.signInsPerMinute,
    now,
  });
  await app.register(adminApi, {
    store: deps.store,
    sources: deps.sources,
    pipeline: deps.pipeline,
    writer: deps.writer,
    dedupe: deps.dedupe,
    startedAt: Date.now(),
    identity: deps.identity,
    reader: deps.reader,
  });
  await app.register(async (scope) => {
    await scope.register(profilesApi, {
      store: deps.store,
      pipeline: deps.pipeline,
      identity: deps.identity,
      identifierRules: deps.identifierRules,
      traitRules: deps.traitRules,
      identityRules: deps.identityRules,
      sources: deps.sources,
      reader: deps.reader,
      segments: deps.segments,
    });
    if (deps.segments !== undefined) {
      await scope.register(segmentsApi, {
        segments: deps.segments,
        reader: deps.reader,
        identity: deps.identity,
        traitRules: deps.traitRules,
        identityRules: deps.identityRules,
        sources: deps.sources,
      });
      await scope.register(computedTraitsApi, { segments: deps.segments });
    }
    await scope.register(analysisApi, {
      identity: deps.identity,
      reader: deps.reader,
      traitRules: deps.traitRules,
      identityRules: deps.identityRules,
      sources: deps.sources,
      store: deps.store,
      segments: deps.segments,
    });
    await scope.register(qualityApi, { store: deps.store, identity: deps.identity });
    await scope.register(overviewApi, {
      store: deps.store,
      identity: deps.identity,
      sources: deps.sources,
      traitRules: deps.traitRules,
      now,
    });
    if (deps.erasure !== undefined) {
      await scope.register(privacyApi, { erasure: deps.erasure, retention: deps.retention });
    }
    await scope.register(exportsApi, {
      store: deps.store,
      identity: deps.identity,
      pseudonymiser: deps.pseudonymiser,
      segments: deps.segments,
    });
    if (deps.imports !== undefined) await scope.register(importsApi, { imports: deps.imports });
  });
  if (deps.consoleRoot !== undefined) await app.register(consoleApp, { root: deps.consoleRoot });
  return app;
}
