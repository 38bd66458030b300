import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { parseRule } from '../src/segments/segment-text.ts';
import {
  appendCondition,
  buildCondition,
  caretPadding,
  hasTopLevelOr,
  type Condition,
} from '../web/src/screens/segments/rule-builder.ts';
import { skipWithoutChromium, startConsole, type ConsoleFixture } from './console-browser.ts';
import { adminToken, basic, createSourceOver } from './helpers.ts';

// The Segments screens: the editor (errors in place, live size, form builder), a segment's page,
// the RFM grid, and what an analyst may not do. Every value searched for is unique to this file,
// so the demo data set the fixture may also load does not change the counts.

const day = 86_400_000;
const city = 'Segville-e2e';

interface Person {
  readonly userId: string;
  readonly email?: string;
  readonly city: string;
  /** Days ago of each order. */
  readonly orders: readonly number[];
}

/**
 * People of Segville-e2e with at least 3 orders in the last 30 days: a, b, c, d (d without an
 * email address); e ordered long ago, f only once; g lives elsewhere.
 */
const people: readonly Person[] = [
  { userId: 'seg-e2e-a', email: 'a@seg-e2e.test', city, orders: [1, 3, 5, 8] },
  { userId: 'seg-e2e-b', email: 'b@seg-e2e.test', city, orders: [2, 4, 6] },
  { userId: 'seg-e2e-c', email: 'c@seg-e2e.test', city, orders: [2, 9, 12, 20, 25] },
  { userId: 'seg-e2e-d', city, orders: [1, 2, 3] },
  { userId: 'seg-e2e-e', email: 'e@seg-e2e.test', city, orders: [60, 70, 80] },
  { userId: 'seg-e2e-f', email: 'f@seg-e2e.test', city, orders: [4] },
  { userId: 'seg-e2e-g', email: 'g@seg-e2e.test', city: 'Elsewhere-e2e', orders: [1, 2, 3, 4, 5] },
];

const residents = { name: 'Segville residents e2e', rule: `trait city = "${city}"` };
const throwaway = { name: 'Throwaway e2e', rule: `trait city = "${city}" and has phone` };
const ids: Record<string, string> = {};

async function api<T>(url: string, path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function seed(url: string): Promise<void> {
  const writeKey = await createSourceOver(url, 'segments-e2e');
  let message = 0;
  const batch = people.flatMap((person) => [
    {
      type: 'identify',
      userId: person.userId,
      messageId: `seg-e2e-${++message}`,
      timestamp: new Date(Date.now() - 100 * day).toISOString(),
      traits: {
        city: person.city,
        plan: 'gold-e2e',
        ...(person.email === undefined ? {} : { email: person.email }),
      },
    },
    ...person.orders.map((daysAgo) => ({
      type: 'track',
      event: 'Order Completed',
      userId: person.userId,
      messageId: `seg-e2e-${++message}`,
      timestamp: new Date(Date.now() - daysAgo * day).toISOString(),
      properties: { revenue: 40 },
    })),
  ]);
  const response = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ batch }),
  });
  if (response.status !== 200) throw new Error(`POST /v1/batch: ${await response.text()}`);
  for (const segment of [residents, throwaway]) {
    const created = await api<{ id: string }>(url, '/api/segments', {
      method: 'POST',
      body: JSON.stringify({ ...segment, description: 'Made by the console test' }),
    });
    ids[segment.name] = created.id;
  }
}

describe('the form builder writes conditions in the rule language', () => {
  const conditions: [Condition, string][] = [
    [
      { kind: 'trait', name: 'city', operator: '=', value: 'Paris', valueType: 'text' },
      'trait city = "Paris"',
    ],
    [{ kind: 'trait', name: 'age', operator: '>=', value: '18', valueType: 'number' }, 'trait age >= 18'],
    [
      { kind: 'trait', name: 'first name', operator: 'exists', value: '', valueType: 'text' },
      'trait "first name" exists',
    ],
    [{ kind: 'trait', name: 'in', operator: '=', value: 'true', valueType: 'boolean' }, 'trait "in" = true'],
    [
      { kind: 'trait', name: 'tags', operator: 'contains', value: 'vip', valueType: 'number' },
      'trait tags contains "vip"',
    ],
    [
      { kind: 'count', event: 'Order Completed', operator: '>=', count: '3', days: '30' },
      'count(event "Order Completed" in last 30 days) >= 3',
    ],
    [
      { kind: 'count', event: 'Signed Up', operator: '=', count: '0', days: '' },
      'count(event "Signed Up") = 0',
    ],
    [
      {
        kind: 'sum',
        event: 'Order Completed',
        property: 'revenue',
        operator: '>',
        amount: '200',
        days: '90',
      },
      'sum(event "Order Completed".revenue in last 90 days) > 200',
    ],
    [
      {
        kind: 'sum',
        event: 'Order Completed',
        property: 'product.unit price',
        operator: '>=',
        amount: '9.5',
        days: '',
      },
      'sum(event "Order Completed".product."unit price") >= 9.5',
    ],
    [{ kind: 'segment', negate: true, segment: 'VIP "gold"' }, 'not in segment "VIP \\"gold\\""'],
    [{ kind: 'consent', purpose: 'email', state: 'may-use' }, 'consent email'],
    [{ kind: 'consent', purpose: 'sms', state: 'denied' }, 'consent sms is denied'],
    [{ kind: 'identifier', negate: false, type: 'email' }, 'has email'],
    [{ kind: 'identifier', negate: true, type: 'phone' }, 'not has phone'],
  ];

  test('each condition is the expected text, and the server parser reads it', () => {
    for (const [condition, text] of conditions) {
      const built = buildCondition(condition);
      assert.deepEqual(built, { ok: true, text });
      assert.doesNotThrow(() => parseRule(text), text);
    }
  });

  test('what is missing is said instead of writing a broken condition', () => {
    assert.deepEqual(
      buildCondition({ kind: 'trait', name: ' ', operator: '=', value: 'x', valueType: 'text' }),
      {
        ok: false,
        problem: 'needName',
      },
    );
    assert.deepEqual(
      buildCondition({ kind: 'trait', name: 'age', operator: '>', value: 'old', valueType: 'number' }),
      {
        ok: false,
        problem: 'needNumber',
      },
    );
    assert.deepEqual(
      buildCondition({ kind: 'count', event: 'Order Completed', operator: '>=', count: '2', days: '1.5' }),
      {
        ok: false,
        problem: 'needDays',
      },
    );
    assert.deepEqual(buildCondition({ kind: 'consent', purpose: 'E-mail', state: 'granted' }), {
      ok: false,
      problem: 'needPurpose',
    });
  });

  test('a condition added with and to a rule with a top-level or keeps the or together', () => {
    assert.equal(hasTopLevelOr('trait a = "x or y" and count(event "E" where p = 1 or q = 2) >= 1'), false);
    assert.equal(hasTopLevelOr('(trait a = 1 or trait b = 2) and has email'), false);
    assert.equal(hasTopLevelOr('trait a = 1 OR trait b = 2'), true);
    assert.equal(
      appendCondition('trait a = 1 or trait b = 2', 'has email', 'and'),
      '(trait a = 1 or trait b = 2)\nand has email',
    );
    assert.equal(
      appendCondition('trait a = 1 or trait b = 2', 'has email', 'or'),
      'trait a = 1 or trait b = 2\nor has email',
    );
    assert.equal(appendCondition('  ', 'has email', 'and'), 'has email');
    const joined = appendCondition('trait a = 1 or trait b = 2', 'has email', 'and');
    assert.equal(parseRule(joined).kind, 'and');
  });

  test('the caret sits under the column, tabs kept', () => {
    assert.equal(caretPadding('abc', 3), '  ');
    assert.equal(caretPadding('\tab', 3), '\t ');
    assert.equal(caretPadding('', 1), '');
  });
});

describe('the Segments screens', { skip: skipWithoutChromium }, () => {
  let fixture: ConsoleFixture;

  before(async () => {
    fixture = await startConsole({ seed });
  });

  after(async () => {
    await fixture?.close();
  });

  async function rule(page: Page, text: string): Promise<void> {
    await page.getByLabel('Rule', { exact: true }).fill(text);
  }

  async function previewSize(page: Page, expected: string): Promise<string> {
    await page
      .getByTestId('preview-size')
      .filter({ hasText: new RegExp(`^${expected}$`) })
      .waitFor();
    return (await page.getByTestId('preview-size').textContent()) ?? '';
  }

  test('a marketer writes a rule, sees its error in place, builds a condition and saves', async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', '/segments');
    await page.getByRole('heading', { level: 1, name: 'Segments' }).waitFor();
    await page.getByRole('row', { name: `Open the segment ${residents.name}` }).waitFor();
    await page.getByRole('link', { name: 'New segment' }).click();
    await page.getByRole('heading', { level: 1, name: 'New segment' }).waitFor();

    const broken = `trait city = "${city}"\nand count(event "Order Completed" in last 30 dayz) >= 3`;
    await rule(page, broken);
    const message = page.getByTestId('rule-error-message');
    await message.waitFor();
    assert.match(
      (await message.textContent()) ?? '',
      /^Line 2, column 46: expected a unit of time .* found "dayz"/,
    );
    const column = broken.split('\n')[1]!.indexOf('dayz') + 1;
    assert.equal(column, 46);
    assert.equal(await page.getByTestId('rule-caret').textContent(), `${' '.repeat(column - 1)}^`);
    const marked = page.getByTestId('rule-marker').locator('.rule-line-error');
    assert.match(
      (await marked.textContent()) ?? '',
      /^2and count\(event "Order Completed" in last 30 dayz\) >= 3$/,
    );
    assert.equal(await page.getByLabel('Rule', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#rule-error').getAttribute('aria-live'), 'polite');
    await fixture.screenshot(page, 'segments-editor-error');

    // Going to the error puts the cursor on "dayz".
    await page.getByRole('button', { name: 'Go to line 2, column 46' }).click();
    const selection = await page
      .getByLabel('Rule', { exact: true })
      .evaluate((element) => (element as unknown as { selectionStart: number }).selectionStart);
    assert.equal(selection, broken.indexOf('dayz'));

    await rule(page, broken.replace('dayz', 'days'));
    assert.equal(await previewSize(page, '4'), '4');
    assert.equal(await page.getByTestId('rule-error-message').count(), 0);
    const sample = await page
      .getByRole('table', { name: 'Profiles the rule selects' })
      .getByRole('link')
      .all();
    assert.equal(sample.length, 4);
    assert.match((await sample[0]!.getAttribute('href')) ?? '', /^\/profiles\/\d+$/);

    // The form builder appends "has email" to the text: d has none.
    await page.getByLabel('Condition', { exact: true }).selectOption('identifier');
    await page.getByLabel('Identifier', { exact: true }).selectOption('email');
    assert.equal(await page.getByTestId('builder-condition').textContent(), 'has email');
    await page.getByRole('button', { name: 'Add condition' }).click();
    const saved = `${broken.replace('dayz', 'days')}\nand has email`;
    assert.equal(await page.getByLabel('Rule', { exact: true }).inputValue(), saved);
    assert.equal(await previewSize(page, '3'), '3');

    await page.getByLabel('Name', { exact: true }).fill(residents.name);
    await page.getByLabel('Description', { exact: true }).fill('Loyal buyers of Segville we can email');
    await page.getByRole('button', { name: 'Save' }).click();
    const taken = page.getByRole('alert').filter({ hasText: 'exists already' });
    await taken.waitFor();
    assert.match(
      (await taken.textContent()) ?? '',
      new RegExp(`A segment named "${residents.name}" exists already`),
    );
    assert.equal(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
    await fixture.screenshot(page, 'segments-editor-preview');

    await page.getByLabel('Name', { exact: true }).fill('Segville loyal buyers e2e');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { level: 1, name: 'Segville loyal buyers e2e' }).waitFor();
    assert.match(new URL(page.url()).pathname, /^\/segments\/[^/]+$/);
    assert.equal(await page.getByTestId('segment-size').textContent(), '3');
    assert.equal(await page.getByTestId('segment-rule').textContent(), saved.replaceAll('\n', ' '));
    const members = page.getByRole('table', { name: 'Members' });
    await members.locator('tbody tr').first().waitFor();
    assert.equal(await members.locator('tbody tr').count(), 3);
    const changes = page.getByRole('table', { name: 'Entries and exits' });
    await changes.locator('tbody tr').first().waitFor();
    assert.equal(await changes.getByText('Entered').count(), 3);
    // Everyone of this segment lives in Segville-e2e: all 3 of its members are in the other one.
    await page.getByLabel('Compare with').selectOption({ label: residents.name });
    await page.getByTestId('overlap-both').filter({ hasText: /^3$/ }).waitFor();
    const traits = page.getByRole('table', { name: 'Trait values' });
    await traits.getByText(city).first().waitFor();
    await page.getByRole('img', { name: /Line chart of the members/ }).waitFor();
    await page.waitForTimeout(300);
    await fixture.screenshot(page, 'segments-detail');
    await page.context().close();
  });

  test('the RFM grid counts customers per cell, and a cell lists its customers', async () => {
    const rfm = (await (await fixture.adminFetch('/api/analysis/rfm')).json()) as {
      customers: number;
      grid: number[][];
    };
    const sum = rfm.grid.flat().reduce((total, count) => total + count, 0);
    assert.equal(sum, rfm.customers);
    assert.ok(rfm.customers >= people.length);
    // A cell's list holds exactly the customers of that cell (a filter this console added).
    let listed = 0;
    for (let r = 1; r <= 5; r++) {
      for (let f = 1; f <= 5; f++) {
        const cell = (await (
          await fixture.adminFetch(`/api/analysis/rfm/members?r=${r}&f=${f}&limit=1000`)
        ).json()) as {
          profiles: { r: number; f: number }[];
        };
        assert.equal(cell.profiles.length, rfm.grid[r - 1]![f - 1]);
        assert.ok(cell.profiles.every((profile) => profile.r === r && profile.f === f));
        listed += cell.profiles.length;
      }
    }
    assert.equal(listed, rfm.customers);
    const nothing = await fixture.adminFetch('/api/analysis/rfm/members');
    assert.equal(nothing.status, 400);

    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', '/segments');
    await page.getByRole('link', { name: 'RFM grid' }).click();
    await page.getByTestId('rfm-grid').waitFor();
    assert.equal(new URL(page.url()).pathname, '/segments/rfm');
    assert.equal(
      await page.getByTestId('rfm-customers').textContent(),
      rfm.customers.toLocaleString('en-GB'),
    );
    let busiest = { r: 1, f: 1, count: -1 };
    for (let r = 1; r <= 5; r++) {
      for (let f = 1; f <= 5; f++) {
        const count = rfm.grid[r - 1]![f - 1]!;
        assert.equal(
          await page.getByTestId(`rfm-cell-${r}-${f}`).locator('.rfm-count').textContent(),
          count.toLocaleString('en-GB'),
        );
        if (count > busiest.count) busiest = { r, f, count };
      }
    }
    await page.getByTestId(`rfm-cell-${busiest.r}-${busiest.f}`).click();
    const list = page.getByRole('table', { name: new RegExp(`^Customers: R${busiest.r} F${busiest.f} `) });
    await list.waitFor();
    assert.equal(await list.locator('tbody tr').count(), Math.min(25, busiest.count));
    assert.equal(
      await page.getByTestId(`rfm-cell-${busiest.r}-${busiest.f}`).getAttribute('aria-pressed'),
      'true',
    );
    await fixture.screenshot(page, 'segments-rfm');
    await page.setViewportSize({ width: 800, height: 900 });
    await fixture.screenshot(page, 'segments-rfm-800');
    await page.context().close();
  });

  test('a marketer deletes a segment after confirming', async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', `/segments/${ids[throwaway.name]}`);
    await page.getByRole('heading', { level: 1, name: throwaway.name }).waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: `Delete the segment ${throwaway.name}?` });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { level: 1, name: 'Segments' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/segments');
    await page.getByRole('row', { name: `Open the segment ${residents.name}` }).waitFor();
    assert.equal(await page.getByRole('row', { name: `Open the segment ${throwaway.name}` }).count(), 0);
    assert.equal((await fixture.adminFetch(`/api/segments/${ids[throwaway.name]}`)).status, 404);
    await fixture.screenshot(page, 'segments-list');
    await page.getByLabel('Language').selectOption('fr');
    await page.getByRole('link', { name: 'Nouveau segment' }).waitFor();
    await page.getByRole('link', { name: 'Grille RFM' }).click();
    await page.getByRole('heading', { name: 'Récence × fréquence' }).waitFor();
    await fixture.screenshot(page, 'segments-rfm-french');
    await page.context().close();
  });

  test('an analyst reads segments and tries rules, but sees nothing that writes', async () => {
    const page = await fixture.newPage({ width: 800, height: 1000 });
    await fixture.signIn(page, 'analyst', '/segments');
    await page.getByRole('row', { name: `Open the segment ${residents.name}` }).click();
    await page.getByRole('heading', { level: 1, name: residents.name }).waitFor();
    assert.equal(await page.getByTestId('segment-size').textContent(), '6');
    assert.equal(await page.getByRole('link', { name: 'New segment' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Edit' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Delete' }).count(), 0);
    await page.getByText('Identifiers are pseudonymised for your role.').first().waitFor();
    await page.locator('.chart canvas').waitFor();
    await page.waitForTimeout(300);
    await fixture.screenshot(page, 'segments-detail-analyst-800');

    await page.goto(`/segments/${ids[residents.name]}/edit`);
    await page.getByText('Your role can try rules here but not save them.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save' }).count(), 0);
    await rule(page, `trait city = "${city}"\nand trait plan = "gold-e2e" and`);
    await page.getByTestId('rule-error-message').waitFor();
    await fixture.screenshot(page, 'segments-editor-analyst-800');
    await rule(page, `trait city = "${city}" and not has email`);
    assert.equal(await previewSize(page, '1'), '1');
    await page.context().close();
  });
});
