import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminToken, startTestCible, type TestCible } from './helpers.ts';

let cible: TestCible;

before(async () => {
  cible = await startTestCible();
});
after(() => cible.close());

async function call(method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  const response = await cible.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${adminToken}` },
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: response.statusCode, body: response.body === '' ? undefined : response.json() };
}

test('the last active admin user can be neither demoted, disabled nor deleted', async () => {
  const first = await call('POST', '/api/users', {
    email: 'first-admin@example.test',
    password: 'first-admin-password',
    role: 'admin',
  });
  assert.equal(first.status, 201);
  const id = (first.body as { id: string }).id;
  for (const [method, payload] of [
    ['PATCH', { role: 'marketer' }],
    ['PATCH', { disabled: true }],
    ['DELETE', undefined],
  ] as const) {
    const refused = await call(method, `/api/users/${id}`, payload);
    assert.equal(refused.status, 409, `${method} ${JSON.stringify(payload)}`);
    assert.equal((refused.body as { error: { code: string } }).error.code, 'CIBLE_ERR_USER_LAST_ADMIN');
  }
  // A change that keeps the admin an admin is fine.
  assert.equal((await call('PATCH', `/api/users/${id}`, { role: 'admin' })).status, 200);

  const second = await call('POST', '/api/users', {
    email: 'second-admin@example.test',
    password: 'second-admin-password',
    role: 'admin',
  });
  assert.equal(second.status, 201);
  assert.equal((await call('PATCH', `/api/users/${id}`, { role: 'marketer' })).status, 200);
  const secondId = (second.body as { id: string }).id;
  assert.equal((await call('DELETE', `/api/users/${secondId}`)).status, 409, 'now the second is the last');
});
