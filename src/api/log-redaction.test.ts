import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactText } from './log-redaction.ts';

test('emails, phones, IP addresses and tokens are masked', () => {
  assert.equal(
    redactText('GET /api/profiles?identifier=email:Ana.Martin%40example.com&x=1'),
    'GET /api/profiles?identifier=email:[email]&x=1',
  );
  assert.equal(redactText('from ana@example.co.uk at 203.0.113.9'), 'from [email] at [ip]');
  assert.equal(redactText('client 2001:db8::1 and fe80:0:0:0:1:2:3:4'), 'client [ip] and [ip]');
  assert.equal(redactText('phone=%2B33612345678'), 'phone=[phone]');
  assert.equal(redactText('call +33 6 12 34 56 78 now'), 'call [phone] now');
  assert.equal(redactText('Authorization: Bearer abc.def-123'), 'Authorization: Bearer [token]');
  assert.equal(redactText('token cible_aaaaaaaaaaaaaaaaaaaaaaaaaaaaa'), 'token [token]');
  // What is not personal stays readable.
  assert.equal(
    redactText('GET /api/segments/seg_12/members?limit=100'),
    'GET /api/segments/seg_12/members?limit=100',
  );
  assert.equal(
    redactText('profile 12345 merged at 2026-12-03T10:00:00Z'),
    'profile 12345 merged at 2026-12-03T10:00:00Z',
  );
});
