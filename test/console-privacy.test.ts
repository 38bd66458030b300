import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { skipWithoutChromium, startConsole, type ConsoleFixture } from './console-browser.ts';
import { adminGet, adminToken, basic, createSourceOver } from './helpers.ts';

// The privacy screen: erasures, the purge that completes them, the suppression list, retention.

let fixture: ConsoleFixture;

/** Values unique to this run: the fixture may also hold a demo data set. */
const kept = 'e2e-privacy-kept-5521';
const erased = 'e2e-privacy-erased-5521';
const source = 'e2e-privacy-web';
let erasedId = 0;
let rulesDir = '';

async function seed(url: string): Promise<void> {
  const writeKey = await createSourceOver(url, source);
  const response = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({
      batch: [
        ...[kept, erased].flatMap((userId) => [
          { type: 'identify', userId, traits: { email: `${userId}@example.org` } },
          { type: 'track', userId, event: 'Product Viewed', properties: { sku: 'SKU-5521' } },
        ]),
        // Past the 30 days of retention of page events.
        { type: 'page', userId: kept, name: 'Home', timestamp: new Date(Date.now() - 60 * 86_400_000) },
      ],
    }),
  });
  assert.equal(response.status, 200, await response.text());
  erasedId = (await adminGet<{ id: number }>(url, `/api/profiles?identifier=userId:${erased}`)).id;
  const erasure = await fetch(`${url}/api/profiles/${erasedId}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(erasure.status, 200, await erasure.text());
}

/** The value (or hint) of the privacy tile with this label. */
function tile(page: Page, label: string, part: 'value' | 'hint' = 'value'): Locator {
  return page
    .getByRole('group', { name: 'Privacy figures' })
    .locator('.stat')
    .filter({ has: page.locator('.stat-label', { hasText: new RegExp(`^${label}$`) }) })
    .locator(`.stat-${part}`);
}

before(async () => {
  if (skipWithoutChromium !== false) return;
  // The Cible process reads its retention rules from the file this variable names.
  rulesDir = await mkdtemp(join(tmpdir(), 'cible-privacy-rules-'));
  const rulesFile = join(rulesDir, 'cible.json');
  const retention = [
    { days: 30, type: 'page' },
    { days: 365, event: 'Product Viewed', source },
  ];
  await writeFile(rulesFile, JSON.stringify({ retention }));
  process.env.CIBLE_RULES_FILE = rulesFile;
  try {
    fixture = await startConsole({ seed });
  } finally {
    delete process.env.CIBLE_RULES_FILE;
  }
});

after(async () => {
  if (skipWithoutChromium !== false) return;
  await fixture.close();
  await rm(rulesDir, { recursive: true, force: true });
});

test(
  'an administrator purges the pending erasure now, then runs the retention rules',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'admin', '/');
    await page
      .getByRole('navigation', { name: 'Main navigation' })
      .getByRole('link', { name: 'Privacy' })
      .click();
    await page.getByRole('heading', { level: 1, name: 'Privacy' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/privacy');

    assert.equal(await tile(page, 'Purges pending').innerText(), '1');
    assert.match(await tile(page, 'Purges pending', 'hint').innerText(), /^Due in \d+ (hours?|days?)$/);
    assert.equal(await tile(page, 'Last purge').innerText(), 'Never');
    assert.ok(Number(await tile(page, 'Suppressed identifiers').innerText()) >= 2);
    const row = page.getByRole('row').filter({ hasText: `#${erasedId}` });
    assert.match(await row.innerText(), /admin token[\s\S]*\d+ rows[\s\S]*Purge pending/);
    // The rows per table, on demand.
    await row.getByText(/^\d+ rows$/).click();
    assert.match(await row.getByRole('list', { name: 'Rows removed per table' }).innerText(), /events\s+2/);
    const retention = page.getByRole('region', { name: 'Retention' });
    assert.deepEqual(await retention.getByRole('row').allInnerTexts(), [
      'EVENTS\tDELETED AT THE LAST RUN',
      'page events: 30 days\t—',
      `Product Viewed from ${source}: 365 days\t—`,
    ]);
    await fixture.screenshot(page, 'privacy-pending');

    await page.getByRole('button', { name: 'Purge now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Purge the erased people’s bytes now?' });
    await dialog.getByText(/requests wait meanwhile/).waitFor();
    await dialog.getByRole('button', { name: 'Purge now' }).click();
    const outcome = page.getByRole('status').filter({ hasText: /^Purge done/ });
    await outcome.waitFor({ timeout: 30_000 });
    assert.match(
      await outcome.innerText(),
      /^Purge done: 1 erasure purged in [\d.,]+\s?(ms|secs?), (tables rewritten in place|whole file copied)\.$/,
    );
    // The status is fetched again once the purge answers.
    await row.getByText('Purged', { exact: true }).waitFor();
    assert.equal(await tile(page, 'Purges pending').innerText(), '0');
    assert.equal(await tile(page, 'Purges pending', 'hint').innerText(), 'Nothing waits to be purged');
    assert.match(
      await tile(page, 'Last purge', 'hint').innerText(),
      /^1 erasure in .+, (tables rewritten in place|whole file copied)$/,
    );
    assert.match(await row.innerText(), /Purged$/);
    assert.equal(await page.getByRole('button', { name: 'Purge now' }).isDisabled(), true);
    await fixture.screenshot(page, 'privacy-purged');

    await retention.getByRole('button', { name: 'Run retention now' }).click();
    await page
      .getByRole('dialog', { name: 'Run the retention job now?' })
      .getByRole('button', { name: 'Run retention now' })
      .click();
    await retention.getByRole('status').getByText('Retention ran: 1 event deleted.').waitFor();
    await retention.getByText(/ · 1 event deleted$/).waitFor();
    assert.deepEqual(await retention.getByRole('cell', { name: /^[—\d]+$/ }).allInnerTexts(), ['1', '0']);
    await page.context().close();

    const tablet = await fixture.newPage({ width: 800, locale: 'fr-FR' });
    await fixture.signIn(tablet, 'admin', '/privacy');
    await tablet.getByRole('heading', { level: 1, name: 'Confidentialité' }).waitFor();
    await tablet.getByText('Purgé', { exact: true }).waitFor();
    await fixture.screenshot(tablet, 'privacy-800-fr');
    await tablet.context().close();
  },
);

test(
  'marketers and analysts get no privacy link, and the address tells them it is not for their role',
  { skip: skipWithoutChromium },
  async () => {
    for (const role of ['marketer', 'analyst'] as const) {
      const page = await fixture.newPage();
      await fixture.signIn(page, role, '/');
      const nav = page.getByRole('navigation', { name: 'Main navigation' });
      await nav.getByRole('link', { name: 'Segments' }).waitFor();
      assert.equal(await nav.getByRole('link', { name: 'Privacy' }).count(), 0, role);
      await page.goto('/privacy');
      await page
        .getByText(/^Your role does not allow this: erasures, purges and retention are managed by/)
        .waitFor();
      assert.equal(await page.getByRole('button', { name: 'Purge now' }).count(), 0, role);
      await page.context().close();
    }
  },
);
