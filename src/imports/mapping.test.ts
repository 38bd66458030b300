import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultIdentifierRules } from '../domain/identifiers.ts';
import { compileDateFormat } from './date-format.ts';
import { compileMapping, type ImportMapping } from './mapping.ts';
import { createIdentifierCheck, customerEvent, orderEvent, readRow, type RowValues } from './row-to-event.ts';
import { ValueError } from './value-error.ts';

const options = { identifierRules: defaultIdentifierRules };

function problems(mapping: unknown, fileName = 'file.csv'): string[] {
  const compiled = compileMapping(mapping as ImportMapping, { ...options, fileName });
  return compiled.ok ? [] : compiled.problems.map((problem) => `${problem.field}: ${problem.message}`);
}

describe('compileMapping', () => {
  it('accepts a customers mapping and chooses the format from the file name', () => {
    const compiled = compileMapping(
      { kind: 'customers', columns: { 'customer.email': { identifier: 'email' }, name: { trait: 'name' } } },
      { ...options, fileName: 'export.jsonl' },
    );
    assert.ok(compiled.ok);
    assert.equal(compiled.mapping.format, 'ndjson');
    assert.deepEqual(compiled.mapping.columns[0]?.path, ['customer', 'email']);
    assert.deepEqual(compiled.mapping.rowKey, []);
  });

  it('says where every problem is', () => {
    assert.deepEqual(
      problems({
        kind: 'customers',
        format: { header: false },
        columns: {
          a: { identifier: 'passport' },
          b: { trait: 'x', property: 'y' },
          c: {},
          d: { property: 'revenue' },
          e: { trait: 'born', type: 'date' },
          f: { trait: 'score', type: 'number', format: 'DD' },
        },
        orderId: 'a',
      }),
      [
        'format.columns: A file without a header needs its column names in format.columns.',
        'columns.a.identifier: "passport" is not an identifier type (known: userId, anonymousId, email, phone, deviceId, advertisingId, loyaltyId, crmId, facebookId, instagramId, twitterId, linkedinId).',
        'columns.b: A column becomes one thing; this one says trait and property.',
        'columns.c: Say what the column becomes: one of identifier, trait, property, product, products, timestamp, consent, ignore.',
        'columns.d.property: A property belongs to an order: use it in transactions files (customers files set traits).',
        'columns.e.format: A date column needs its format, e.g. "YYYY-MM-DD", "DD/MM/YYYY" or "iso".',
        'columns.f.format: A format applies to type date only.',
        'columns: Map at least one column to an identifier (userId, email, phone, loyaltyId, crmId...), or nobody can be recognised.',
        'orderId: Only transactions files have an order id.',
      ],
    );
  });

  it('asks transactions for a timestamp, and for line items from one place', () => {
    assert.deepEqual(
      problems({
        kind: 'transactions',
        columns: { card: { identifier: 'loyaltyId' }, items: { products: true }, sku: { product: 'sku' } },
      }),
      [
        'columns: A transactions file needs a timestamp column: when each order took place.',
        'columns: Line items come either from product columns or from one JSON products column, not both.',
      ],
    );
  });

  it('makes the order id the row key of transactions', () => {
    const compiled = compileMapping(
      {
        kind: 'transactions',
        orderId: 'ticket',
        columns: { card: { identifier: 'loyaltyId' }, at: { timestamp: 'iso' }, price: { product: 'price' } },
      },
      options,
    );
    assert.ok(compiled.ok);
    assert.deepEqual(compiled.mapping.rowKey, ['ticket']);
    assert.deepEqual(compiled.mapping.columns.at(-1)?.roles, [{ role: 'orderId' }]);
  });
});

describe('date formats', () => {
  it('reads patterns, and refuses dates that do not exist', () => {
    const parse = compileDateFormat('YYYYMMDD', 'UTC');
    assert.ok(typeof parse === 'function');
    assert.equal(parse('19970101'), Date.UTC(1997, 0, 1));
    assert.ok(parse('19970230') instanceof ValueError);
    assert.equal(parse('20240229'), Date.UTC(2024, 1, 29));
    assert.ok(parse('20230229') instanceof ValueError);
    assert.ok(parse('19971301') instanceof ValueError);
    assert.ok(parse('1997-01-01') instanceof ValueError);
    const french = compileDateFormat('D/M/YYYY H:mm', 'UTC');
    assert.ok(typeof french === 'function');
    assert.equal(french('7/3/2024 9:05'), Date.UTC(2024, 2, 7, 9, 5));
  });

  it('reads times without a zone in the mapping time zone, across daylight saving', () => {
    const parse = compileDateFormat('YYYY-MM-DD HH:mm', 'Europe/Paris');
    assert.ok(typeof parse === 'function');
    assert.equal(parse('2024-01-15 12:00'), Date.UTC(2024, 0, 15, 11, 0));
    assert.equal(parse('2024-07-15 12:00'), Date.UTC(2024, 6, 15, 10, 0));
    const iso = compileDateFormat('iso', 'Europe/Paris');
    assert.ok(typeof iso === 'function');
    assert.equal(iso('2024-07-15T12:00:00'), Date.UTC(2024, 6, 15, 10, 0));
    assert.equal(iso('2024-07-15T12:00:00Z'), Date.UTC(2024, 6, 15, 12, 0));
    const unix = compileDateFormat('unix', 'UTC');
    assert.ok(typeof unix === 'function');
    assert.equal(unix('1700000000'), 1_700_000_000_000);
  });

  it('says why a format is not one', () => {
    assert.equal(
      compileDateFormat('MM/DD', 'UTC'),
      'The format "MM/DD" has no year (use YYYY, MM, DD; or iso, unix, unix_ms).',
    );
  });
});

describe('consent columns', () => {
  const check = createIdentifierCheck(defaultIdentifierRules);
  const mapping: ImportMapping = {
    kind: 'customers',
    columns: {
      mail: { identifier: 'email' },
      optin_email: { consent: 'email' },
      optin_sms: { consent: 'sms' },
      club: { consent: 'loyalty' },
    },
  };

  it('answer purposes of the rules, one column each', () => {
    assert.deepEqual(problems(mapping), [
      'columns.club.consent: "loyalty" is not a consent purpose (known: analytics, personalization, email, sms, push, postal, phone, advertising); add your own to the rules file under consent.purposes.',
    ]);
    assert.ok(compileMapping(mapping, { ...options, consentPurposes: ['email', 'sms', 'loyalty'] }).ok);
    assert.deepEqual(
      problems({
        kind: 'customers',
        columns: {
          mail: { identifier: 'email' },
          a: { consent: 'email' },
          b: { consent: 'email', type: 'boolean' },
        },
      }),
      [
        'columns.b.type: "type" applies to trait, property and product columns only.',
        'columns.b.consent: Only one column can answer for email; "a" already does.',
      ],
    );
  });

  it('read yes/no, true/false, 1/0 and granted/denied; an empty cell says nothing; anything else rejects the row', () => {
    const compiled = compileMapping(mapping, { ...options, consentPurposes: ['email', 'sms', 'loyalty'] });
    assert.ok(compiled.ok);
    const read = (cells: unknown[]) => readRow(compiled.mapping, { line: 3, cells }, check);
    const answers = (cells: unknown[]) => (read(cells) as RowValues).consent;
    assert.deepEqual(answers(['a@example.com', 'Yes', 'no', '']), { email: 'granted', sms: 'denied' });
    assert.deepEqual(answers(['a@example.com', '1', ' 0 ', 'GRANTED']), {
      email: 'granted',
      sms: 'denied',
      loyalty: 'granted',
    });
    assert.deepEqual(answers(['a@example.com', true, false, 'denied']), {
      email: 'granted',
      sms: 'denied',
      loyalty: 'denied',
    });
    assert.equal(answers(['a@example.com', '', ' ', null]), undefined);
    assert.deepEqual(read(['a@example.com', 'maybe', '', '']), {
      rejected: true,
      code: 'CIBLE_ERR_IMPORT_ROW_INVALID_VALUE',
      reason:
        'Column optin_email: "maybe" is not a consent answer for email: write yes or no, true or false, 1 or 0, granted or denied (an empty cell says nothing).',
      field: 'optin_email',
    });

    const values = read(['a@example.com', 'yes', 'no', '']) as RowValues;
    assert.deepEqual(customerEvent(values, { messageId: 'imp_1', importId: 'imp_x', line: 3 }).context, {
      import: { id: 'imp_x', line: 3, consent: { email: 'granted', sms: 'denied' } },
    });
  });
});

describe('rows to events', () => {
  const check = createIdentifierCheck(defaultIdentifierRules);

  it('puts each identifier where the pipeline reads it, and treats placeholders as empty', () => {
    const compiled = compileMapping(
      {
        kind: 'customers',
        columns: {
          id: { identifier: 'userId' },
          mail: { identifier: 'email' },
          phone: { identifier: 'phone' },
          card: { identifier: 'loyaltyId' },
          crm: { identifier: 'crmId' },
          amount: { trait: 'spent', type: 'number', decimal: ',' },
        },
      },
      options,
    );
    assert.ok(compiled.ok);
    const values = readRow(
      compiled.mapping,
      { line: 2, cells: ['u1', ' A@Example.com ', 'n/a', 'L1', 'C1', '1.234,50'] },
      check,
    );
    assert.ok(!('rejected' in values));
    assert.deepEqual(customerEvent(values, { messageId: 'imp_1', importId: 'imp_x', line: 2 }), {
      type: 'identify',
      messageId: 'imp_1',
      userId: 'u1',
      traits: { spent: 1234.5, email: 'A@Example.com' },
      context: {
        externalIds: [
          { id: 'L1', type: 'loyaltyId', collection: 'users', encoding: 'none' },
          { id: 'C1', type: 'crmId', collection: 'users', encoding: 'none' },
        ],
        import: { id: 'imp_x', line: 2 },
      },
    });
  });

  it('builds an order from its lines, with revenue when the file has none', () => {
    const compiled = compileMapping(
      {
        kind: 'transactions',
        orderId: 'ticket',
        columns: {
          mail: { identifier: 'email' },
          at: { timestamp: 'iso' },
          sku: { product: 'sku' },
          qty: { product: 'quantity' },
          price: { product: 'price' },
        },
      },
      options,
    );
    assert.ok(compiled.ok);
    const rows = [
      ['a@example.com', '2024-01-01T10:00:00Z', 'A', '2', '1.25', 'T1'],
      ['a@example.com', '2024-01-01T10:00:00Z', 'B', '1', '3', 'T1'],
    ].map((cells, index) => readRow(compiled.mapping, { line: index + 2, cells }, check) as RowValues);
    assert.deepEqual(
      orderEvent(rows, 'Order Completed', { messageId: 'imp_2', importId: 'imp_x', line: 2 }),
      {
        type: 'track',
        event: 'Order Completed',
        messageId: 'imp_2',
        timestamp: '2024-01-01T10:00:00.000Z',
        properties: {
          order_id: 'T1',
          products: [
            { sku: 'A', quantity: 2, price: 1.25 },
            { sku: 'B', quantity: 1, price: 3 },
          ],
          revenue: 5.5,
        },
        context: { traits: { email: 'a@example.com' }, import: { id: 'imp_x', line: 2 } },
      },
    );
  });
});
