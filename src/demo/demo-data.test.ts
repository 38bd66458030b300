import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { identifiersOf, isIdentifierRejection, normaliseIdentifier } from '../domain/identifiers.ts';
import { isRejection } from '../ingestion/outcomes.ts';
import { toStoredEvent } from '../ingestion/to-stored-event.ts';
import { validateEvent } from '../ingestion/validate-event.ts';
import { parseExpression, parseRule } from '../segments/segment-text.ts';
import { generateDemo, mulberry32, type DemoData, type DemoEvent } from './demo-data.ts';

const now = Date.parse('2026-03-15T11:00:00Z');
const day = 86_400_000;
const data = generateDemo({ seed: 42, people: 400, now });

const allEvents = (demo: DemoData): DemoEvent[] => demo.sources.flatMap((source) => source.events);
const crmRows = (demo: DemoData): Record<string, string>[] =>
  parse<Record<string, string>>(demo.crm.csv, { columns: true, delimiter: ';', skip_empty_lines: true });

test('mulberry32 gives the same numbers for the same seed, in [0, 1)', () => {
  const a = mulberry32(7);
  const b = mulberry32(7);
  const first = Array.from({ length: 5 }, () => a());
  assert.deepEqual(
    Array.from({ length: 5 }, () => b()),
    first,
  );
  assert.ok(first.every((value) => value >= 0 && value < 1));
  assert.notDeepEqual(Array.from({ length: 5 }, mulberry32(8)), first);
});

test('the same seed, people and now give byte-identical data; another seed, other data', () => {
  const again = generateDemo({ seed: 42, people: 400, now });
  assert.equal(JSON.stringify(again), JSON.stringify(data));
  const other = generateDemo({ seed: 43, people: 400, now });
  assert.notEqual(other.crm.csv, data.crm.csv);
  assert.notEqual(JSON.stringify(other.sources[0]!.events[0]), JSON.stringify(data.sources[0]!.events[0]));
});

test('four sources, tens of events per person, orders from the web, the app and the shops', () => {
  assert.deepEqual(
    data.sources.map((source) => source.name),
    ['Website', 'Mobile app', 'Shops', 'CRM'],
  );
  const events = allEvents(data);
  assert.equal(data.summary.events, events.length);
  assert.ok(events.length >= 20 * data.summary.people, `${events.length} events for 400 people`);
  for (const source of data.sources) assert.ok(source.events.length > 0, source.name);
  const names = new Set(events.map((event) => (event.type === 'track' ? event.event : event.type)));
  for (const name of [
    'page',
    'screen',
    'identify',
    'Product Viewed',
    'Product Added',
    'Order Completed',
    'Email Opened',
    'Email Clicked',
    'Consent Updated',
  ]) {
    assert.ok(names.has(name), name);
  }
  const orders = events.filter((event) => event.event === 'Order Completed');
  assert.equal(orders.length, data.summary.orders);
  for (const source of ['Website', 'Mobile app', 'Shops']) {
    const sourceEvents = data.sources.find((candidate) => candidate.name === source)!.events;
    assert.ok(
      sourceEvents.some((event) => event.event === 'Order Completed'),
      `orders in ${source}`,
    );
  }
  for (const order of orders) {
    const properties = order.properties as { revenue: number; category: string; products: unknown[] };
    assert.ok(properties.revenue > 0);
    assert.ok(properties.products.length > 0);
    assert.match(properties.category, /^(clothing|shoes|accessories|home|beauty|sport)$/);
  }
});

test('every event is one Cible takes: valid, under 32 KB, with an identifier, in the last 90 days, each messageId once', () => {
  const messageIds = new Set<string>();
  for (const event of allEvents(data)) {
    const valid = validateEvent(event);
    assert.ok(!isRejection(valid), `${JSON.stringify(valid)}: ${JSON.stringify(event)}`);
    const stored = toStoredEvent(valid, {
      sourceId: 'src',
      receivedAt: now,
      ip: null,
      maxEventBytes: 32 * 1024,
    });
    assert.ok(!isRejection(stored), JSON.stringify(event));
    const identified = identifiersOf({
      userId: stored.userId,
      anonymousId: stored.anonymousId,
      traits: (event.traits as Record<string, unknown> | undefined) ?? null,
      context: (event.context as Record<string, unknown> | undefined) ?? null,
    });
    assert.ok(identified.identifiers.length > 0, JSON.stringify(event));
    const at = Date.parse(event.timestamp);
    assert.ok(at <= now && at >= now - 91 * day, event.timestamp);
    assert.ok(!messageIds.has(event.messageId), `messageId ${event.messageId} twice`);
    messageIds.add(event.messageId);
  }
  for (const source of data.sources) {
    const times = source.events.map((event) => Date.parse(event.timestamp));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      `${source.name} oldest first`,
    );
  }
});

test('journeys cross devices: anonymous on the phone and the laptop, then one userId over both', () => {
  const web = data.sources[0]!.events;
  const mobile = data.sources[1]!.events;
  const anonymousIdsOf = (userId: string, events: readonly DemoEvent[]): Set<unknown> =>
    new Set(events.filter((event) => event.userId === userId).map((event) => event.anonymousId));
  const userIds = new Set(web.filter((event) => event.type === 'identify').map((event) => event.userId));
  let crossDevice = 0;
  for (const userId of userIds) {
    const onPhone = anonymousIdsOf(userId as string, mobile);
    if (onPhone.size === 0) continue;
    const [phoneAnonymousId] = onPhone;
    // The phone's anonymousId browsed before anyone knew who it was.
    if (mobile.some((event) => event.anonymousId === phoneAnonymousId && event.userId === undefined))
      crossDevice++;
  }
  assert.ok(crossDevice >= 20, `${crossDevice} people went from anonymous on the phone to signed in`);
  assert.ok(data.summary.anonymousIds > data.summary.userIds);
  assert.ok(
    mobile.every((event) => typeof (event.context as { device: { id: string } }).device.id === 'string'),
  );
  const shop = data.sources[2]!.events;
  for (const event of shop) {
    const context = event.context as { externalIds: { type: string }[]; traits?: { email?: string } };
    assert.equal(context.externalIds[0]!.type, 'loyaltyId');
    assert.equal(context.traits?.email, undefined, 'tills know no e-mail address');
  }
});

test('the CRM writes e-mail addresses and phone numbers its own way; Cible reads them as the same', () => {
  const webEmails = new Map<string, string>();
  const webPhones = new Set<string>();
  for (const event of [...data.sources[0]!.events, ...data.sources[2]!.events]) {
    const traits = (event.traits ?? (event.context as { traits?: unknown }).traits) as
      { email?: string; phone?: string } | undefined;
    if (traits?.email !== undefined) {
      const email = normaliseIdentifier('email', traits.email);
      if (!isIdentifierRejection(email)) webEmails.set(email.value, traits.email);
    }
    if (traits?.phone !== undefined) {
      const phone = normaliseIdentifier('phone', traits.phone);
      if (!isIdentifierRejection(phone)) webPhones.add(phone.value);
    }
  }
  let sameEmailWrittenOtherwise = 0;
  let samePhoneWrittenOtherwise = 0;
  for (const row of crmRows(data)) {
    const email = normaliseIdentifier('email', row.Email);
    if (
      !isIdentifierRejection(email) &&
      webEmails.has(email.value) &&
      webEmails.get(email.value) !== row.Email
    ) {
      sameEmailWrittenOtherwise++;
    }
    const phone = normaliseIdentifier('phone', row.Mobile);
    if (!isIdentifierRejection(phone) && webPhones.has(phone.value) && !row.Mobile!.startsWith('+33')) {
      samePhoneWrittenOtherwise++;
    }
  }
  assert.ok(sameEmailWrittenOtherwise >= 10, `${sameEmailWrittenOtherwise} addresses written otherwise`);
  assert.ok(samePhoneWrittenOtherwise >= 10, `${samePhoneWrittenOtherwise} numbers written otherwise`);
});

test('the CRM export has the dirty rows it says, and only those', () => {
  const rows = crmRows(data);
  assert.equal(rows.length, data.crm.rows);
  assert.equal(data.crm.csv.split('\n')[0], Object.keys(rows[0]!).join(';'));
  assert.deepEqual(data.crm.dirtyRows.map((row) => row.problem).sort(), [
    'date',
    'date',
    'date',
    'email',
    'email',
    'email',
    'id',
    'id',
  ]);
  const dirty = new Map(data.crm.dirtyRows.map((row) => [row.line, row]));
  const validDate = (text: string): boolean => {
    const match = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(text);
    if (match === null) return false;
    const [, d, m, y] = match.map(Number) as [number, number, number, number];
    const date = new Date(Date.UTC(y, m - 1, d));
    return date.getUTCDate() === d && date.getUTCMonth() === m - 1;
  };
  rows.forEach((row, index) => {
    const line = index + 2;
    const problem = dirty.get(line)?.problem;
    const emailOk = row.Email === '' || !isIdentifierRejection(normaliseIdentifier('email', row.Email));
    const phoneOk =
      row.Mobile === '' ||
      row.Mobile === 'n/a' ||
      !isIdentifierRejection(normaliseIdentifier('phone', row.Mobile));
    const dateOk = row['Birth date'] === '' || validDate(row['Birth date']!);
    assert.equal(emailOk, problem !== 'email', `line ${line} e-mail ${row.Email}`);
    assert.equal(dateOk, problem !== 'date', `line ${line} birth date ${row['Birth date']}`);
    assert.equal(row['Customer no'] !== '', problem !== 'id', `line ${line} customer no`);
    assert.ok(phoneOk, `line ${line} mobile ${row.Mobile}`);
  });
});

test('every bad payload is one Cible refuses', () => {
  assert.ok(data.badPayloads.length >= 8);
  for (const payload of data.badPayloads) {
    let body: unknown;
    try {
      body = JSON.parse(payload.body);
    } catch {
      continue;
    }
    if (Buffer.byteLength(payload.body) > 32 * 1024) continue;
    const events = payload.path === '/v1/batch' ? (body as { batch: unknown[] }).batch : [body];
    for (const event of events) {
      assert.ok(isRejection(validateEvent(event)), `${payload.problem}: ${payload.body.slice(0, 200)}`);
    }
  }
});

test('consent: the banner says yes and no, and the CRM records e-mail opt-ins', () => {
  const marketing = new Set(
    data.sources[0]!.events.map(
      (event) =>
        (event.context as { consent: { categoryPreferences: { marketing: boolean } } }).consent
          .categoryPreferences.marketing,
    ),
  );
  assert.deepEqual([...marketing].sort(), [false, true]);
  const optIns = new Set(crmRows(data).map((row) => row['Email opt-in']));
  assert.deepEqual([...optIns].sort(), ['no', 'yes']);
});

test('time has a weekly rhythm: shops are busiest on Saturday and nearly shut on Sunday', () => {
  const byDay = Array.from({ length: 7 }, () => 0);
  for (const event of data.sources[2]!.events)
    byDay[new Date(Date.parse(event.timestamp) + 3_600_000).getUTCDay()]!++;
  assert.ok(byDay[6]! > 2 * byDay[0]!, `Saturday ${byDay[6]}, Sunday ${byDay[0]}`);
  assert.ok(byDay[6]! > byDay[2]!, `Saturday ${byDay[6]}, Tuesday ${byDay[2]}`);
  const spread = allEvents(data).map((event) => Date.parse(event.timestamp));
  assert.ok(Math.min(...spread) < now - 60 * day);
  assert.ok(Math.max(...spread) > now - 2 * day);
});

test('segments and computed traits are written in the rule language', () => {
  for (const segment of data.segments) assert.doesNotThrow(() => parseRule(segment.rule), segment.name);
  for (const trait of data.computedTraits)
    assert.doesNotThrow(() => parseExpression(trait.expression), trait.name);
  assert.ok(data.segments.some((segment) => segment.rule.includes('consent email')));
});

test('bad options are refused with what was wrong', () => {
  assert.throws(() => generateDemo({ seed: 1.5, people: 10, now }), /seed must be an integer/);
  assert.throws(() => generateDemo({ seed: 1, people: 0, now }), /number of people/);
  assert.throws(() => generateDemo({ seed: 1, people: 10, now: Number.NaN }), /now must be/);
});
