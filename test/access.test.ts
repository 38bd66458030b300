import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { roles, routePolicies, type Role } from '../src/access/access-policy.ts';
import { adminToken, basic, startTestCible, type TestCible } from './helpers.ts';

type Inject = TestCible['app']['inject'];
type Response = Awaited<ReturnType<Inject>>;

describe('access control', () => {
  let cible: TestCible;
  const tokens = new Map<Role, string>();

  const call = (
    method: string,
    url: string,
    options: { token?: string; cookie?: string; csrf?: string; payload?: unknown; ip?: string } = {},
  ): Promise<Response> =>
    cible.app.inject({
      method: method as 'GET',
      url,
      ...(options.ip === undefined ? {} : { remoteAddress: options.ip }),
      headers: {
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
        ...(options.csrf === undefined ? {} : { 'x-csrf-token': options.csrf }),
      },
      ...(options.payload === undefined ? {} : { payload: options.payload as Record<string, unknown> }),
    });

  before(async () => {
    cible = await startTestCible({ CIBLE_LOGIN_MAX_FAILURES: '3' });
    for (const role of roles) {
      const created = await call('POST', '/api/tokens', {
        token: adminToken,
        payload: { name: `${role} token`, role },
      });
      assert.equal(created.statusCode, 201, created.body);
      tokens.set(role, created.json<{ token: string }>().token);
    }
  });
  after(() => cible.close());

  test('the policy table names exactly the routes the API serves', async () => {
    const document = await call('GET', '/api/openapi.json');
    const paths = document.json<{ paths: Record<string, Record<string, unknown>> }>().paths;
    const served = Object.entries(paths)
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([path, methods]) =>
        Object.keys(methods).map(
          (method) => `${method.toUpperCase()} ${path.replaceAll(/\{(\w+)\}/g, ':$1')}`,
        ),
      )
      .sort();
    const named = Object.keys(routePolicies)
      .filter((route) => route !== 'GET /api/openapi.json')
      .sort();
    assert.deepEqual(served, named);
  });

  test('every route × every role: allowed or 403, and 401 without credentials', async () => {
    const outcomes: string[] = [];
    for (const [route, policy] of Object.entries(routePolicies)) {
      const [method, pattern] = route.split(' ') as [string, string];
      const url = pattern.replaceAll(/:(\w+)/g, 'none');
      const anonymous = await call(method, url);
      if (policy.allow === 'public') {
        assert.notEqual(anonymous.statusCode, 401, `${route} is public`);
        continue;
      }
      assert.equal(anonymous.statusCode, 401, `${route} without credentials: ${anonymous.body}`);
      if (method === 'GET') {
        assert.equal((await call('HEAD', url)).statusCode, 401, `HEAD ${pattern} without credentials`);
      }
      for (const role of roles) {
        // Sign-out would end nothing here (tokens have no session), but keep the tokens for the rest.
        const response = await call(method, url, { token: tokens.get(role)!, payload: {} });
        const allowed = policy.allow.includes(role);
        if (allowed) {
          assert.ok(
            response.statusCode !== 401 && response.statusCode !== 403,
            `${route} as ${role} should be allowed: ${response.statusCode} ${response.body}`,
          );
        } else {
          assert.equal(response.statusCode, 403, `${route} as ${role} should be refused: ${response.body}`);
          assert.equal(response.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_AUTH_FORBIDDEN');
        }
        outcomes.push(`${route} ${role} ${allowed ? 'allowed' : 'refused'}`);
      }
    }
    // The table has every role decided for every route (3 per non-public route).
    const nonPublic = Object.values(routePolicies).filter((policy) => policy.allow !== 'public').length;
    assert.equal(outcomes.length, nonPublic * roles.length);
    assert.ok(outcomes.includes('POST /api/users analyst refused'));
    assert.ok(outcomes.includes('GET /api/profiles/:id analyst allowed'));
    assert.ok(outcomes.includes('GET /api/events analyst refused'));
  });

  test('a write key cannot read the admin API', async () => {
    const writeKey = await cible.createSource('web');
    const response = await cible.app.inject({
      method: 'GET',
      url: '/api/stats',
      headers: { authorization: basic(writeKey) },
    });
    assert.equal(response.statusCode, 401);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_AUTH_WRITE_KEY');
  });

  test('a revoked token is refused; its last use was recorded', async () => {
    const created = await call('POST', '/api/tokens', {
      token: adminToken,
      payload: { name: 'short-lived', role: 'marketer' },
    });
    const { id, token } = created.json<{ id: string; token: string }>();
    assert.equal((await call('GET', '/api/stats', { token })).statusCode, 200);
    const listed = (await call('GET', '/api/tokens', { token: adminToken })).json<{
      tokens: { id: string; lastUsedAt: string | null; revokedAt: string | null }[];
    }>();
    assert.notEqual(listed.tokens.find((entry) => entry.id === id)?.lastUsedAt, null);
    assert.ok(!JSON.stringify(listed).includes(token), 'the secret is shown once, at creation');

    const revoked = await call('DELETE', `/api/tokens/${id}`, { token: adminToken });
    assert.equal(revoked.statusCode, 200);
    assert.notEqual(revoked.json<{ revokedAt: string | null }>().revokedAt, null);
    const refused = await call('GET', '/api/stats', { token });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_AUTH_TOKEN_REVOKED');
  });

  test('a rotated write key is refused and the new one works; a revoked key is refused', async () => {
    const created = await call('POST', '/api/sources', { token: adminToken, payload: { name: 'app' } });
    const source = created.json<{ id: string; writeKey: string }>();
    const track = (writeKey: string): Promise<Response> =>
      cible.app.inject({
        method: 'POST',
        url: '/v1/track',
        headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
        payload: { event: 'Opened', anonymousId: 'a-1' },
      });
    assert.equal((await track(source.writeKey)).statusCode, 200);

    const rotated = await call('POST', `/api/sources/${source.id}/write-key`, { token: adminToken });
    const newKey = rotated.json<{ writeKey: string }>().writeKey;
    assert.notEqual(newKey, source.writeKey);
    const old = await track(source.writeKey);
    assert.equal(old.statusCode, 401);
    assert.equal(old.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_TRACKING_UNKNOWN_WRITE_KEY');
    assert.equal((await track(newKey)).statusCode, 200);

    const revoked = await call('DELETE', `/api/sources/${source.id}/write-key`, { token: adminToken });
    assert.notEqual(revoked.json<{ revokedAt: string | null }>().revokedAt, null);
    assert.equal((await track(newKey)).statusCode, 401);
    assert.equal(
      (await call('POST', '/api/sources/src_none/write-key', { token: adminToken })).statusCode,
      404,
    );
  });

  test('console users sign in with a cookie; changes need the CSRF token', async () => {
    const created = await call('POST', '/api/users', {
      token: adminToken,
      payload: { email: 'Marie@Example.com ', password: 'correct horse battery', role: 'marketer' },
    });
    assert.equal(created.statusCode, 400, 'the email is checked as sent');
    const user = await call('POST', '/api/users', {
      token: adminToken,
      payload: { email: 'Marie@Example.com', password: 'correct horse battery', role: 'marketer' },
    });
    assert.equal(user.statusCode, 201, user.body);
    assert.equal(user.json<{ email: string }>().email, 'marie@example.com');
    const weak = await call('POST', '/api/users', {
      token: adminToken,
      payload: { email: 'weak@example.com', password: 'short', role: 'analyst' },
    });
    assert.equal(weak.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_USER_INVALID_PASSWORD');

    const signIn = await call('POST', '/api/session', {
      payload: { email: 'marie@example.com', password: 'correct horse battery' },
    });
    assert.equal(signIn.statusCode, 200, signIn.body);
    const setCookie = String(signIn.headers['set-cookie']);
    assert.match(setCookie, /^cible_session=[\w-]+;/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /Secure/);
    assert.match(setCookie, /SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;
    const { csrfToken, actor } = signIn.json<{ csrfToken: string; actor: { role: string } }>();
    assert.equal(actor.role, 'marketer');

    assert.equal(
      (await call('GET', '/api/session', { cookie })).json<{ csrfToken: string }>().csrfToken,
      csrfToken,
    );
    const withoutCsrf = await call('POST', '/api/segments', {
      cookie,
      payload: { name: 'Parisians', rule: 'trait city = "Paris"' },
    });
    assert.equal(withoutCsrf.statusCode, 403);
    assert.equal(withoutCsrf.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_AUTH_CSRF');
    const wrongCsrf = await call('POST', '/api/segments', {
      cookie,
      csrf: `${csrfToken}x`,
      payload: { name: 'Parisians', rule: 'trait city = "Paris"' },
    });
    assert.equal(wrongCsrf.statusCode, 403);
    const withCsrf = await call('POST', '/api/segments', {
      cookie,
      csrf: csrfToken,
      payload: { name: 'Parisians', rule: 'trait city = "Paris"' },
    });
    assert.equal(withCsrf.statusCode, 201, withCsrf.body);
    // A marketer may not manage users, even with a valid session.
    assert.equal((await call('GET', '/api/users', { cookie })).statusCode, 403);

    assert.equal((await call('DELETE', '/api/session', { cookie, csrf: csrfToken })).statusCode, 204);
    const after = await call('GET', '/api/session', { cookie });
    assert.equal(after.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_AUTH_SESSION_EXPIRED');
  });

  test('repeated failed sign-ins lock the account, even for the right password', async () => {
    await call('POST', '/api/users', {
      token: adminToken,
      payload: { email: 'locked@example.com', password: 'a long enough password', role: 'analyst' },
    });
    const attempt = (password: string): Promise<Response> =>
      call('POST', '/api/session', {
        payload: { email: 'locked@example.com', password },
        ip: '198.51.100.7',
      });
    for (let i = 0; i < 2; i++) {
      const failed = await attempt('wrong password');
      assert.equal(failed.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_AUTH_LOGIN_FAILED');
    }
    const third = await attempt('wrong password');
    assert.equal(third.statusCode, 429);
    assert.equal(third.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_AUTH_LOCKED');
    assert.equal(third.headers['retry-after'], String(15 * 60));
    const right = await attempt('a long enough password');
    assert.equal(right.statusCode, 429, 'locked even with the right password');
    const unknown = await call('POST', '/api/session', {
      payload: { email: 'nobody@example.com', password: 'x' },
    });
    assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_AUTH_LOGIN_FAILED');

    const users = (await call('GET', '/api/users', { token: adminToken })).json<{
      users: { id: string; email: string; lockedUntil: string | null }[];
    }>().users;
    const locked = users.find((user) => user.email === 'locked@example.com')!;
    assert.notEqual(locked.lockedUntil, null);
    // An admin setting a new password lifts the lock.
    await call('PATCH', `/api/users/${locked.id}`, {
      token: adminToken,
      payload: { password: 'a brand new password' },
    });
    assert.equal((await attempt('a brand new password')).statusCode, 200);
  });

  test('sign-in attempts are limited per address', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 21; i++) {
      last = await call('POST', '/api/session', {
        payload: { email: `guess${i}@example.com`, password: 'guess' },
        ip: '192.0.2.50',
      });
    }
    assert.equal(last?.statusCode, 429);
    assert.equal(last?.json<{ error: { code: string } }>().error.code, 'CIBLE_ERR_AUTH_RATE_LIMITED');
    assert.ok(Number(last?.headers['retry-after']) > 0);
  });

  test('the audit log records who did what, when and from where', async () => {
    const marketer = tokens.get('marketer')!;
    await call('GET', '/api/profiles/123', { token: marketer, ip: '203.0.113.5' });
    const entries = (await call('GET', '/api/audit?limit=1000', { token: adminToken })).json<{
      entries: {
        action: string;
        actor: { type: string; name: string | null; role: string | null };
        target: { type: string; id: string } | null;
        ip: string | null;
      }[];
    }>().entries;
    const actions = new Set(entries.map((entry) => entry.action));
    for (const action of [
      'token.create',
      'token.revoke',
      'user.create',
      'user.update',
      'session.login',
      'session.logout',
      'session.login_failed',
      'session.locked',
      'source.rotate_write_key',
      'source.revoke_write_key',
      'segment.create',
      'access.denied',
    ]) {
      assert.ok(actions.has(action), `${action} is audited`);
    }
    const view = entries.find((entry) => entry.action === 'profile.view' && entry.target?.id === '123');
    // A profile that does not exist was not viewed: only successful calls are recorded.
    assert.equal(view, undefined);
    const created = entries.find((entry) => entry.action === 'token.create')!;
    assert.deepEqual(created.actor, {
      type: 'bootstrap',
      id: 'bootstrap',
      name: 'admin token',
      role: 'admin',
    });
    assert.equal(created.target?.type, 'tokens');
    const denied = (
      await call('GET', '/api/audit?action=access.denied&limit=5', { token: adminToken })
    ).json<{
      entries: { actor: { role: string } }[];
    }>().entries;
    assert.ok(denied.length > 0 && denied.every((entry) => entry.actor.role !== 'admin'));
  });

  test('analysts see pseudonyms, never identifiers or personal traits, and cannot look people up by them', async () => {
    const writeKey = await cible.createSource('crm');
    await cible.sendBatch(writeKey, [
      {
        type: 'identify',
        userId: 'crm-778',
        traits: { email: 'Lea.Dupont@example.com', firstName: 'Léa', city: 'Lyon', plan: 'gold' },
      },
    ]);
    const analyst = tokens.get('analyst')!;
    const marketer = tokens.get('marketer')!;
    const found = await call('GET', '/api/profiles?identifier=userId:crm-778', { token: marketer });
    const { id } = found.json<{ id: number }>();

    const seen = await call('GET', `/api/profiles/${id}`, { token: analyst });
    assert.equal(seen.statusCode, 200);
    for (const secret of ['crm-778', 'lea.dupont@example.com', 'Lea.Dupont@example.com', 'Léa']) {
      assert.ok(!seen.body.includes(secret), `${secret} is not shown to an analyst`);
    }
    const profile = seen.json<{
      identifiers: { type: string; value: string }[];
      traits: Record<string, { value: unknown }>;
    }>();
    assert.ok(
      profile.identifiers.length >= 2 && profile.identifiers.every((entry) => /^ps_/.test(entry.value)),
    );
    assert.equal(profile.traits.city?.value, 'Lyon');
    assert.equal(profile.traits.plan?.value, 'gold');
    assert.match(String(profile.traits.firstName?.value), /^ps_/);
    // The same person always gets the same pseudonym.
    const again = (await call('GET', `/api/profiles/${id}`, { token: analyst })).json<typeof profile>();
    assert.deepEqual(again.identifiers, profile.identifiers);
    // Marketers see the person.
    assert.ok((await call('GET', `/api/profiles/${id}`, { token: marketer })).body.includes('crm-778'));

    for (const query of ['identifier=userId:crm-778', 'q=crm', 'trait.email=lea.dupont@example.com']) {
      const lookup = await call('GET', `/api/profiles?${query}`, { token: analyst });
      assert.equal(lookup.statusCode, 403, query);
    }
    const byCity = await call('GET', '/api/profiles?trait.city=Lyon', { token: analyst });
    assert.equal(byCity.statusCode, 200, byCity.body);
    assert.ok(!byCity.body.includes('crm-778'));
  });
});
