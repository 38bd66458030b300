import { timingSafeEqual } from 'node:crypto';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {} from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type {
  FastifyInstance,
  FastifyRequest,
  onRequestAsyncHookHandler,
  onSendHookHandler,
  preSerializationHookHandler,
} from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { policyFor, roles, sightOf, type Role, type RoutePolicy } from '../access/access-policy.ts';
import type { Pseudonymiser } from '../access/pseudonymise.ts';
import type { AccessService, Actor, Token, User } from '../access/access-service.ts';
import type { AuditLog } from '../access/audit-log.ts';
import { CibleError } from '../errors.ts';
import type { AuditEntry, AuditRecord } from '../store/access-store.ts';
import type { Store } from '../store/store.ts';
import { sendError } from './error-handler.ts';
import { nextCursor } from './pages.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set for every authenticated /api route. */
    actor: Actor | undefined;
    /** What a handler adds to the route's audit entry (the id it created, a detail). */
    auditNote: AuditNote | undefined;
  }
}

export interface AuditNote {
  readonly targetType?: string;
  readonly targetId?: string;
  readonly detail?: Record<string, unknown>;
}

export const sessionCookie = 'cible_session';
const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface AccessControlOptions {
  readonly access: AccessService;
  readonly audit: AuditLog;
  readonly pseudonymiser: Pseudonymiser;
  readonly now: () => number;
}

/**
 * Authentication, authorisation and the audit of every /api route, from the table in
 * `access-policy.ts`. A route under /api that the table does not name stops the server from
 * starting: nothing is reachable by omission.
 */
export const accessControl = fastifyPlugin(async (app: FastifyInstance, options: AccessControlOptions) => {
  app.decorateRequest('actor', undefined);
  app.decorateRequest('auditNote', undefined);

  // Each /api route gets the hooks its policy calls for, and no more: /v1 and public routes none.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/')) return;
    // HEAD routes (made for every GET) follow the GET's policy: see policyFor.
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const policies = methods.map((method) => {
      const policy = policyFor(method, route.url);
      if (policy === undefined) {
        throw new Error(
          `No access policy for ${method} ${route.url}: add it to src/access/access-policy.ts.`,
        );
      }
      return policy;
    });
    const policy = policies[0];
    if (policy === undefined || policy.allow === 'public') return;
    route.onRequest = [...hookList(route.onRequest), guard(policy.allow, policy, route.url)];
    if (policy.allow.some((role) => sightOf(role) === 'pseudonymised')) {
      route.preSerialization = [...hookList(route.preSerialization), pseudonymise];
    }
    if (policy.audit !== undefined) route.onSend = [...hookList(route.onSend), recordAudit(policy.audit)];
  });

  function guard(allow: readonly Role[], policy: RoutePolicy, url: string): onRequestAsyncHookHandler {
    return async (request, reply) => {
      const actor = authenticate(request, options.access);
      if (actor instanceof CibleError) return sendError(reply, actor);
      if (actor.session !== undefined && unsafeMethods.has(request.method)) {
        const sent = request.headers['x-csrf-token'];
        if (typeof sent !== 'string' || !sameText(sent, actor.session.csrfToken)) {
          return sendError(
            reply,
            new CibleError(
              'CIBLE_ERR_AUTH_CSRF',
              `${request.method} ${url} with a session cookie needs the session's X-CSRF-Token header.`,
              { field: 'X-CSRF-Token' },
            ),
          );
        }
      }
      request.actor = actor;
      if (!allow.includes(actor.role)) {
        void options.audit.record(
          entryOf(request, options.now(), 'access.denied', { route: `${request.method} ${url}` }),
        );
        return sendError(
          reply,
          new CibleError(
            'CIBLE_ERR_AUTH_FORBIDDEN',
            `The ${actor.role} role may not call ${request.method} ${url}; it is open to ${allow.join(', ')}.`,
          ),
        );
      }
      if (sightOf(actor.role) === 'pseudonymised' && policy.personalQuery !== undefined) {
        const personal = personalParameter(request.query, policy.personalQuery, options.pseudonymiser);
        if (personal !== undefined) {
          void options.audit.record(
            entryOf(request, options.now(), 'access.denied', { parameter: personal }),
          );
          return sendError(
            reply,
            new CibleError(
              'CIBLE_ERR_AUTH_FORBIDDEN',
              `The ${actor.role} role sees pseudonymised profiles and may not look people up by ${personal}.`,
              { field: `querystring.${personal}` },
            ),
          );
        }
      }
    };
  }

  // Roles that see pseudonyms get every identifier and personal trait of the answer replaced.
  const pseudonymise: preSerializationHookHandler<unknown> = (request, _reply, payload, done) => {
    const actor = request.actor;
    if (actor === undefined || sightOf(actor.role) !== 'pseudonymised') done(null, payload);
    else done(null, options.pseudonymiser.answer(payload));
  };

  // Before the answer leaves: a change is answered only once its entry is written; a read does not wait.
  function recordAudit(action: string): onSendHookHandler<unknown> {
    return (request, reply, payload, done) => {
      if (request.actor === undefined || reply.statusCode >= 400) return done(null, payload);
      const note = request.auditNote;
      const entry = entryOf(request, options.now(), action, note?.detail);
      const recorded = options.audit.record(
        {
          ...entry,
          ...(note?.targetType === undefined ? {} : { targetType: note.targetType }),
          ...(note?.targetId === undefined ? {} : { targetId: note.targetId }),
        },
        { durable: unsafeMethods.has(request.method) },
      );
      if (!unsafeMethods.has(request.method)) return done(null, payload);
      recorded.then(
        () => done(null, payload),
        (error: unknown) => done(error as Error),
      );
    };
  }
});

/** A route option's hooks as a list. */
function hookList<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

function authenticate(request: FastifyRequest, access: AccessService): Actor | CibleError {
  const header = request.headers.authorization;
  if (header !== undefined && /^bearer /i.test(header)) return access.byBearer(header.slice(7).trim());
  if (header !== undefined && /^basic /i.test(header)) {
    return new CibleError(
      'CIBLE_ERR_AUTH_WRITE_KEY',
      'A write key (HTTP Basic) cannot read or change anything under /api.',
    );
  }
  const sessionId = request.cookies[sessionCookie];
  if (sessionId !== undefined && sessionId !== '') return access.bySession(sessionId);
  return new CibleError(
    'CIBLE_ERR_AUTH_MISSING_TOKEN',
    'This route needs a bearer token or a signed-in session.',
  );
}

/** An audit entry for the request's actor; the target is the route's `:id`, when it has one. */
export function entryOf(
  request: FastifyRequest,
  at: number,
  action: string,
  detail?: Record<string, unknown>,
): AuditEntry {
  const actor = request.actor;
  const params = request.params as Record<string, unknown> | undefined;
  const raw = params?.id;
  const id = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : null;
  const [, area] = (request.routeOptions.url ?? '').split('/').filter(Boolean);
  const targetType = id === null && request.auditNote?.targetId === undefined ? null : (area ?? null);
  return {
    at,
    actorType: actor?.type ?? 'anonymous',
    actorId: actor?.id ?? null,
    actorName: actor?.name ?? null,
    role: actor?.role ?? null,
    action,
    targetType,
    targetId: id,
    ip: request.ip,
    detail: detail === undefined ? null : JSON.stringify(detail),
  };
}

/** The first query parameter that searches by personal data, if any. */
function personalParameter(
  query: unknown,
  personalQuery: readonly string[],
  pseudonymiser: Pseudonymiser,
): string | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  return Object.keys(query).find(
    (name) =>
      personalQuery.includes(name) ||
      (personalQuery.includes('trait.*') &&
        name.startsWith('trait.') &&
        pseudonymiser.isPersonalTrait(name.slice('trait.'.length))),
  );
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const RoleSchema = Type.Unsafe<Role>({ type: 'string', enum: [...roles] });

const UserOutput = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  createdAt: Type.String(),
  disabledAt: Type.Union([Type.String(), Type.Null()]),
  lockedUntil: Type.Union([Type.String(), Type.Null()]),
});

const TokenOutput = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  createdAt: Type.String(),
  createdBy: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});

const SessionOutput = Type.Object({
  actor: Type.Object({ type: Type.String(), id: Type.String(), name: Type.String(), role: RoleSchema }),
  csrfToken: Type.Union([Type.String(), Type.Null()], {
    description: 'Send it as X-CSRF-Token on every POST, PUT, PATCH and DELETE made with the session cookie.',
  }),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
});

export interface AccessApiOptions {
  readonly access: AccessService;
  readonly audit: AuditLog;
  readonly store: Pick<Store, 'access'>;
  readonly cookieSecure: boolean;
  readonly now: () => number;
  /** Sign-in attempts allowed per client address and minute. */
  readonly signInsPerMinute: number;
}

/** Signing in and out, console users, API tokens and the audit log. */
export async function accessApi(fastify: FastifyInstance, options: AccessApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { access, audit, now } = options;
  const security = [{ bearerAuth: [] }];

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new CibleError(
        'CIBLE_ERR_AUTH_RATE_LIMITED',
        `More than ${context.max} sign-in attempts from this address in ${context.after}.`,
      ),
  });

  app.post(
    '/api/session',
    {
      config: { rateLimit: { max: options.signInsPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['access'],
        summary: 'Sign in: sets the session cookie and answers the CSRF token',
        body: Type.Object({
          email: Type.String({ maxLength: 320 }),
          password: Type.String({ maxLength: 1000 }),
        }),
        response: { 200: SessionOutput },
      },
    },
    async (request, reply) => {
      const outcome = await access.signIn(request.body.email, request.body.password);
      if (!outcome.ok) {
        if (outcome.reason === 'locked') {
          if (outcome.justLocked) {
            await audit.record(
              {
                ...anonymousEntry(request, now()),
                action: 'session.locked',
                targetType: 'users',
                targetId: outcome.user.id,
              },
              { durable: true },
            );
          }
          reply.header('Retry-After', String(Math.ceil(outcome.retryAfterMs / 1000)));
          return sendError(
            reply,
            new CibleError(
              'CIBLE_ERR_AUTH_LOCKED',
              `Too many failed sign-ins: the account is locked for ${Math.ceil(outcome.retryAfterMs / 60_000)} more minutes.`,
            ),
          );
        }
        void audit.record({ ...anonymousEntry(request, now()), action: 'session.login_failed' });
        return sendError(reply, new CibleError('CIBLE_ERR_AUTH_LOGIN_FAILED', 'Wrong email or password.'));
      }
      const { actor } = outcome;
      request.actor = actor;
      void audit.record({
        ...entryOf(request, now(), 'session.login'),
        targetType: 'users',
        targetId: actor.id,
      });
      reply.setCookie(sessionCookie, outcome.sessionId, {
        httpOnly: true,
        secure: options.cookieSecure,
        sameSite: 'strict',
        path: '/',
        expires: new Date(actor.session?.expiresAt ?? now()),
      });
      return sessionOutput(actor);
    },
  );

  app.get(
    '/api/session',
    {
      schema: {
        tags: ['access'],
        summary: 'Who is calling, with the CSRF token of a session',
        security,
        response: { 200: SessionOutput },
      },
    },
    async (request) => sessionOutput(request.actor!),
  );

  app.delete(
    '/api/session',
    { schema: { tags: ['access'], summary: 'Sign out', security } },
    async (request, reply) => {
      await access.signOut(request.actor!);
      reply.clearCookie(sessionCookie, { path: '/' });
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/users',
    {
      schema: {
        tags: ['access'],
        summary: 'Console users',
        security,
        response: { 200: Type.Object({ users: Type.Array(UserOutput) }) },
      },
    },
    async () => ({ users: access.listUsers().map(userOutput) }),
  );

  app.post(
    '/api/users',
    {
      schema: {
        tags: ['access'],
        summary: 'Create a console user',
        security,
        body: Type.Object({
          email: Type.String({ format: 'email', maxLength: 320 }),
          password: Type.String(),
          role: RoleSchema,
        }),
        response: { 201: UserOutput },
      },
    },
    async (request, reply) => {
      const user = await access.createUser(request.body);
      request.auditNote = { targetId: user.id, detail: { role: user.role } };
      return reply.code(201).send(userOutput(user));
    },
  );

  app.patch(
    '/api/users/:id',
    {
      schema: {
        tags: ['access'],
        summary: 'Change a user: role, password, or disable',
        security,
        params: Type.Object({ id: Type.String() }),
        body: Type.Object({
          role: Type.Optional(RoleSchema),
          password: Type.Optional(Type.String()),
          disabled: Type.Optional(Type.Boolean()),
        }),
        response: { 200: UserOutput },
      },
    },
    async (request) => {
      const user = await access.updateUser(request.params.id, request.body);
      request.auditNote = { detail: { changed: Object.keys(request.body), role: user.role } };
      return userOutput(user);
    },
  );

  app.delete(
    '/api/users/:id',
    {
      schema: {
        tags: ['access'],
        summary: 'Delete a console user',
        security,
        params: Type.Object({ id: Type.String() }),
      },
    },
    async (request, reply) => {
      await access.deleteUser(request.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/tokens',
    {
      schema: {
        tags: ['access'],
        summary: 'API tokens (never their secret)',
        security,
        response: { 200: Type.Object({ tokens: Type.Array(TokenOutput) }) },
      },
    },
    async () => ({ tokens: access.listTokens().map(tokenOutput) }),
  );

  app.post(
    '/api/tokens',
    {
      schema: {
        tags: ['access'],
        summary: 'Create an API token bound to a role; its secret is shown once',
        security,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), role: RoleSchema }),
        response: { 201: Type.Object({ ...TokenOutput.properties, token: Type.String() }) },
      },
    },
    async (request, reply) => {
      const token = await access.createToken({
        name: request.body.name.trim(),
        role: request.body.role,
        createdBy: request.actor!.id,
      });
      request.auditNote = { targetId: token.id, detail: { role: token.role } };
      return reply.code(201).send({ ...tokenOutput(token), token: token.token });
    },
  );

  app.delete(
    '/api/tokens/:id',
    {
      schema: {
        tags: ['access'],
        summary: 'Revoke an API token',
        security,
        params: Type.Object({ id: Type.String() }),
        response: { 200: TokenOutput },
      },
    },
    async (request) => tokenOutput(await access.revokeToken(request.params.id)),
  );

  app.get(
    '/api/audit',
    {
      schema: {
        tags: ['access'],
        summary: 'The audit log, newest first',
        security,
        querystring: Type.Object({
          action: Type.Optional(Type.String()),
          actorId: Type.Optional(Type.String()),
          targetType: Type.Optional(Type.String()),
          targetId: Type.Optional(Type.String()),
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          cursor: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
      },
    },
    async (request) => {
      await audit.flush();
      const { from, to, cursor, ...filters } = request.query;
      const records = await options.store.access.listAudit({
        ...filters,
        ...(from === undefined ? {} : { from: Date.parse(from) }),
        ...(to === undefined ? {} : { to: Date.parse(to) }),
        ...(cursor === undefined ? {} : { beforeSeq: cursor }),
      });
      return {
        entries: records.map(auditOutput),
        nextCursor: nextCursor(records, request.query.limit, (record) => record.seq),
      };
    },
  );
}

function anonymousEntry(request: FastifyRequest, at: number): AuditEntry {
  return {
    ...entryOf(request, at, 'session'),
    actorType: 'anonymous',
    actorId: null,
    actorName: null,
    role: null,
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function sessionOutput(actor: Actor) {
  return {
    actor: { type: actor.type, id: actor.id, name: actor.name, role: actor.role },
    csrfToken: actor.session?.csrfToken ?? null,
    expiresAt: iso(actor.session?.expiresAt ?? null),
  };
}

function userOutput(user: User) {
  return {
    ...user,
    createdAt: iso(user.createdAt)!,
    disabledAt: iso(user.disabledAt),
    lockedUntil: iso(user.lockedUntil),
  };
}

function tokenOutput(token: Token) {
  return {
    ...token,
    createdAt: iso(token.createdAt)!,
    lastUsedAt: iso(token.lastUsedAt),
    revokedAt: iso(token.revokedAt),
  };
}

function auditOutput(record: AuditRecord) {
  return {
    seq: record.seq,
    at: iso(record.at)!,
    actor: { type: record.actorType, id: record.actorId, name: record.actorName, role: record.role },
    action: record.action,
    target: record.targetType === null ? null : { type: record.targetType, id: record.targetId },
    ip: record.ip,
    detail: record.detail === null ? null : (JSON.parse(record.detail) as unknown),
  };
}
