import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildMapping,
  camelCase,
  fitChoice,
  guessColumn,
  guessKind,
  missingRoles,
  type ColumnChoice,
} from '../web/src/screens/imports/column-mapping.ts';
import { editablePayload, parseCorrection } from '../web/src/screens/quarantine/quarantine-api.ts';
import { snippetsFor } from '../web/src/screens/sources/snippets.ts';

// The pure parts of the console's data screens: snippets, the guesses and the mapping of an import.

test('the snippets carry the write key and the address of this Cible', () => {
  const snippets = snippetsFor('k3y_-AB', 'https://cible.example.com:8443');
  assert.ok(snippets.browser.includes("{ writeKey: 'k3y_-AB', cdnURL: 'https://cible.example.com:8443' }"));
  assert.ok(snippets.browser.includes("apiHost: 'cible.example.com:8443/v1', protocol: 'https'"));
  assert.ok(
    snippets.node.includes("new Analytics({ writeKey: 'k3y_-AB', host: 'https://cible.example.com:8443' })"),
  );
  assert.ok(snippets.curl.startsWith("curl -u 'k3y_-AB:' https://cible.example.com:8443/v1/track \\"));
  const local = snippetsFor('key', 'http://127.0.0.1');
  assert.ok(local.browser.includes("cdnURL: 'http://127.0.0.1' }"));
  assert.ok(local.browser.includes("apiHost: '127.0.0.1/v1', protocol: 'http'"));
});

test('columns are guessed from their names, in English and French', () => {
  const guess = (name: string, kind: 'customers' | 'transactions' = 'customers') => {
    const { role, target, type } = guessColumn(name, kind);
    return [role, target, type];
  };
  assert.deepEqual(guess('Email'), ['identifier', 'email', 'string']);
  assert.deepEqual(guess('E-mail'), ['identifier', 'email', 'string']);
  assert.deepEqual(guess('Courriel'), ['identifier', 'email', 'string']);
  assert.deepEqual(guess('Mobile'), ['identifier', 'phone', 'string']);
  assert.deepEqual(guess('Téléphone'), ['identifier', 'phone', 'string']);
  assert.deepEqual(guess('Carte fidélité'), ['identifier', 'loyaltyId', 'string']);
  assert.deepEqual(guess('Customer no'), ['identifier', 'crmId', 'string']);
  assert.deepEqual(guess('user_id'), ['identifier', 'userId', 'string']);
  assert.deepEqual(guess('Email opt-in'), ['consent', 'email', 'string']);
  assert.deepEqual(guess('SMS opt-in'), ['consent', 'sms', 'string']);
  assert.deepEqual(guess('Date de naissance'), ['trait', 'birthday', 'string']);
  assert.deepEqual(guess('Updated'), ['timestamp', 'iso', 'string']);
  assert.deepEqual(guess('First name'), ['trait', 'firstName', 'string']);
  assert.deepEqual(guess('Ticket', 'transactions'), ['orderId', '', 'string']);
  assert.deepEqual(guess('Qty', 'transactions'), ['product', 'quantity', 'integer']);
  assert.deepEqual(guess('Unit price', 'transactions'), ['product', 'price', 'number']);
  assert.deepEqual(guess('Store', 'transactions'), ['property', 'store', 'string']);
  assert.equal(camelCase('Code postal'), 'codePostal');
  assert.equal(guessKind(['Card', 'Ticket', 'SKU', 'Qty']), 'transactions');
  assert.equal(guessKind(['Email', 'First name']), 'customers');
  // Moving to transactions, a trait is no longer possible: the column is guessed again.
  assert.equal(fitChoice('City', guessColumn('City', 'customers'), 'transactions').role, 'property');
  assert.equal(fitChoice('Email', guessColumn('Email', 'customers'), 'transactions').role, 'identifier');
});

test('the mapping has the format read, leaves ignored columns out, and puts the order id at the top', () => {
  const choices: Record<string, ColumnChoice> = {
    Card: { role: 'identifier', target: 'loyaltyId', type: 'string', format: '' },
    Ticket: { role: 'orderId', target: '', type: 'string', format: '' },
    Date: { role: 'timestamp', target: 'DD/MM/YYYY HH:mm', type: 'string', format: '' },
    Qty: { role: 'product', target: 'quantity', type: 'integer', format: '' },
    Born: { role: 'product', target: ' born ', type: 'date', format: 'DD/MM/YYYY' },
    Note: { role: 'ignore', target: '', type: 'string', format: '' },
  };
  const mapping = buildMapping({
    kind: 'transactions',
    preview: {
      format: { type: 'csv', delimiter: ';' },
      columns: ['Card', 'Ticket', 'Date', 'Qty', 'Born', 'Note'],
      rows: [],
    },
    choices,
    timezone: 'Europe/Paris',
  });
  assert.deepEqual(mapping, {
    kind: 'transactions',
    format: { type: 'csv', delimiter: ';' },
    columns: {
      Card: { identifier: 'loyaltyId' },
      Date: { timestamp: 'DD/MM/YYYY HH:mm' },
      Qty: { product: 'quantity', type: 'integer' },
      Born: { product: 'born', type: 'date', format: 'DD/MM/YYYY' },
    },
    orderId: 'Ticket',
    timezone: 'Europe/Paris',
  });
  assert.deepEqual(missingRoles('transactions', Object.values(choices)), []);
  assert.deepEqual(
    missingRoles('transactions', [{ role: 'trait', target: ' ', type: 'string', format: '' }]),
    ['identifier', 'timestamp', 'target'],
  );
});

test('a quarantined payload is laid out for editing when it is JSON, and kept as sent when not', () => {
  assert.equal(editablePayload('{"event":"A"}'), '{\n  "event": "A"\n}');
  assert.equal(editablePayload('{"event":'), '{"event":');
  assert.deepEqual(parseCorrection('{"userId": "1"}'), { ok: true, value: { userId: '1' } });
  const broken = parseCorrection('{"userId": }');
  assert.equal(broken.ok, false);
});
