import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { skipWithoutChromium, startConsole, type ConsoleFixture } from './console-browser.ts';
import { basic, repoRoot } from './helpers.ts';

// The console's data screens in Chromium against a real Cible: sources (write key, snippets,
// live events), imports (mapping, progress, rejected rows) and the quarantine (fix and replay).

let fixture: ConsoleFixture;
// Unique values, so that other data in the same Cible (a demo data set) never matches.
const run = Date.now().toString(36);

const umdDir = join(repoRoot, 'node_modules/@segment/analytics-next/dist/umd');
let site: Server;
let siteUrl: string;

before(async () => {
  if (skipWithoutChromium !== false) return;
  fixture = await startConsole();
  // A web site of its own origin, serving the official browser SDK's bundle, to run the snippet on.
  site = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    if (path.startsWith('/ajs/')) {
      readFile(join(umdDir, path.slice('/ajs/'.length).replaceAll('..', ''))).then(
        (body) => response.writeHead(200, { 'content-type': 'text/javascript' }).end(body),
        () => response.writeHead(404).end(),
      );
      return;
    }
    response
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>Shop</title><h1>Shop</h1>');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
});

after(async () => {
  if (skipWithoutChromium !== false) return;
  await new Promise((resolve) => site.close(resolve));
  await fixture.close();
});

async function track(writeKey: string, body: Record<string, unknown>, path = '/v1/track') {
  return fetch(`${fixture.url}${path}`, {
    method: 'POST',
    headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/**
 * Runs a snippet as a web site would, on another origin, with the official browser SDK's bundle;
 * answers the page, to close once its events are seen.
 */
async function runBrowserSnippet(snippet: string): Promise<{ page: Page; errors: string[] }> {
  const page = await fixture.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(`${siteUrl}/`);
  await page.addScriptTag({ url: `${siteUrl}/ajs/index.js` });
  // The snippet as shown, less the module syntax a page script cannot have.
  const body = snippet.replace(/^import .*$/m, '').replace(/^export /m, '');
  await page.evaluate(`(() => { const { AnalyticsBrowser } = window.AnalyticsNext; ${body} })()`);
  return { page, errors };
}

async function textOf(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).textContent()) ?? '';
}

test(
  'an administrator creates a source, copies its write key, and its snippets and events work',
  { skip: skipWithoutChromium, timeout: 90_000 },
  async () => {
    const page = await fixture.newPage();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: fixture.url });
    await fixture.signIn(page, 'admin', '/sources');
    const name = `Web shop ${run}`;
    await page.getByLabel('Name of the source').fill(name);
    await page.getByRole('button', { name: 'Create the source' }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    const sourcePath = new URL(page.url()).pathname;
    assert.match(sourcePath, /^\/sources\/src_[0-9a-f]+$/);

    const writeKey = await textOf(page, 'write-key');
    assert.match(writeKey, /^[A-Za-z0-9_-]{32}$/);
    const listed = (await (await fixture.adminFetch('/api/sources')).json()) as {
      sources: { name: string; writeKey: string }[];
    };
    assert.equal(listed.sources.find((source) => source.name === name)?.writeKey, writeKey);

    const host = new URL(fixture.url).host;
    const browser = await textOf(page, 'snippet-browser');
    assert.ok(browser.includes(`{ writeKey: '${writeKey}', cdnURL: '${fixture.url}' }`), browser);
    assert.ok(browser.includes(`apiHost: '${host}/v1', protocol: 'http'`), browser);
    const node = await textOf(page, 'snippet-node');
    assert.ok(node.includes(`new Analytics({ writeKey: '${writeKey}', host: '${fixture.url}' })`), node);
    assert.ok(
      (await textOf(page, 'snippet-curl')).startsWith(`curl -u '${writeKey}:' ${fixture.url}/v1/track`),
    );

    await page.getByRole('button', { name: 'Copy the write key' }).click();
    await page.getByRole('button', { name: 'Copy the write key' }).filter({ hasText: 'Copied' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Copied the write key to the clipboard.' }).waitFor();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), writeKey);
    await page.getByRole('button', { name: 'Copy Node.js server' }).click();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), node);

    // An event sent with the key appears in the live view of the source within a poll or two.
    const sentAt = Date.now();
    const sent = await track(writeKey, {
      userId: `debugger-${run}`,
      event: `Debugger Test ${run}`,
      properties: { sku: 'SKU-1' },
    });
    assert.equal(sent.status, 200);
    const row = page.getByRole('row', { name: new RegExp(`Debugger Test ${run}`) });
    await row.waitFor({ timeout: 8000 });
    const seenAfterMs = Date.now() - sentAt;
    assert.ok(seenAfterMs < 5000, `seen after ${seenAfterMs} ms`);
    await row.click();
    const json = JSON.parse(await textOf(page, 'event-json')) as Record<string, unknown>;
    assert.equal(json.userId, `debugger-${run}`);
    assert.deepEqual(json.properties, { sku: 'SKU-1' });
    await fixture.screenshot(page, 'data-source-created');

    // Filters: another type hides it; paused, nothing new comes until resumed.
    await page.getByLabel('Type').selectOption('identify');
    await page.getByText('No event yet.').waitFor();
    await page.getByLabel('Type').selectOption('');
    await row.waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await track(writeKey, { userId: `debugger-${run}`, event: `While Paused ${run}` });
    await page.waitForTimeout(2500);
    assert.equal(await page.getByRole('row', { name: new RegExp(`While Paused ${run}`) }).count(), 0);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('row', { name: new RegExp(`While Paused ${run}`) }).waitFor({ timeout: 5000 });

    // The browser snippet, run on another site, sends to this Cible with this key.
    const site = await runBrowserSnippet(browser);
    const fromSnippet = page.getByRole('row', { name: /Order Completed/ });
    await fromSnippet.waitFor({ timeout: 8000 }).catch((error: unknown) => {
      throw new Error(`The snippet's events did not arrive; the page said: ${site.errors.join(' | ')}`, {
        cause: error,
      });
    });
    assert.deepEqual(site.errors, []);
    await site.page.context().close();
    await fromSnippet.click();
    const order = JSON.parse(await textOf(page, 'event-json')) as {
      userId: string;
      sourceId: string;
      context: { library: { name: string } };
    };
    assert.equal(order.userId, 'user-42');
    assert.equal(order.context.library.name, 'analytics.js');

    // Revoked, the key is refused; a new key works, and the old one stays refused.
    await page.getByRole('button', { name: 'Revoke the key' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke the key' }).click();
    await page.getByText('The key is revoked: events sent with it are refused.').waitFor();
    assert.equal(
      await page.getByRole('region', { name: 'Write key' }).locator('.badge').textContent(),
      'Revoked',
    );
    assert.equal((await track(writeKey, { userId: 'x', event: 'Refused' })).status, 401);
    await page.getByRole('button', { name: 'Give it a new key' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate the key' }).click();
    await page.getByText('New key in place: the previous one is refused from now on.').waitFor();
    const newKey = await textOf(page, 'write-key');
    assert.notEqual(newKey, writeKey);
    assert.ok((await textOf(page, 'snippet-node')).includes(`writeKey: '${newKey}'`));
    assert.equal((await track(newKey, { userId: 'x', event: `New Key ${run}` })).status, 200);
    assert.equal((await track(writeKey, { userId: 'x', event: 'Refused' })).status, 401);

    // Every source's events on one page, from the list.
    await page.getByRole('link', { name: 'All sources' }).click();
    await page.getByRole('row', { name: `Open the source ${name}` }).waitFor();
    await fixture.screenshot(page, 'data-sources-list');
    await page.getByRole('link', { name: 'Live events' }).click();
    await page.getByRole('heading', { level: 1, name: 'Live events' }).waitFor();
    await page.getByRole('row', { name: new RegExp(`New Key ${run}`) }).waitFor();
    await fixture.screenshot(page, 'data-live-events');

    const tablet = await fixture.newPage({ width: 800, height: 1000 });
    await fixture.signIn(tablet, 'marketer', sourcePath);
    await tablet.getByTestId('write-key').waitFor();
    await tablet.getByRole('row', { name: new RegExp(`Debugger Test ${run}`) }).waitFor();
    assert.equal(await tablet.getByRole('button', { name: 'Rotate the key' }).count(), 0);
    await tablet.getByText('Only an administrator can rotate or revoke a write key.').waitFor();
    await fixture.screenshot(tablet, 'data-source-marketer-800');
    await tablet.context().close();
    await page.context().close();
  },
);

test(
  'a CSV import is mapped from its first rows, runs, and shows its rejected row with the reason',
  { skip: skipWithoutChromium, timeout: 90_000 },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', '/imports');
    await page.getByRole('link', { name: 'New import' }).click();
    const fileName = `customers-${run}.csv`;
    const header = 'Email;First name;Loyalty card;Newsletter opt-in';
    const csv = [
      header,
      `ann.${run}@example.com;Ann;CARD-${run}-1;yes`,
      'not-an-email;Bob;;no',
      `cid.${run}@example.com;Cid;CARD-${run}-3;`,
      '',
    ].join('\n');
    await page.getByLabel('File to import').setInputFiles({
      name: fileName,
      mimeType: 'text/csv',
      buffer: Buffer.from(csv),
    });
    await page.getByRole('heading', { name: 'Preview of the first 3 rows' }).waitFor();
    assert.equal(await page.getByLabel('Delimiter').inputValue(), ';');
    assert.equal(await page.getByLabel('What the column Email becomes').inputValue(), 'identifier');
    assert.equal(await page.getByLabel('Identifier type of the column Email').inputValue(), 'email');
    assert.equal(
      await page.getByLabel('Identifier type of the column Loyalty card').inputValue(),
      'loyaltyId',
    );
    assert.equal(await page.getByLabel('What the column First name becomes').inputValue(), 'trait');
    assert.equal(await page.getByLabel('Name given to the column First name').inputValue(), 'firstName');
    assert.equal(
      await page.getByLabel('Consent purpose of the column Newsletter opt-in').inputValue(),
      'email',
    );
    const preview = page.getByRole('table', {
      name: 'The first rows of the file, each column with what it becomes',
    });
    assert.equal(await preview.getByRole('row').count(), 4);
    await preview.getByRole('cell', { name: 'not-an-email' }).waitFor();
    // The preview's header says what each column becomes as it is changed.
    await page.getByLabel('Name given to the column First name').fill('givenName');
    await preview.getByText('Trait · givenName').waitFor();
    await fixture.screenshot(page, 'data-import-mapping');
    await page.setViewportSize({ width: 800, height: 900 });
    await fixture.screenshot(page, 'data-import-mapping-800');
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.getByRole('button', { name: 'Run the import' }).click();
    await page.waitForURL(/\/imports\/imp_[0-9a-f]+$/);
    await page
      .getByText('Completed: 1 row could not be imported', { exact: false })
      .waitFor({ timeout: 15000 });
    const rejected = page.getByRole('table', { name: 'Rejected rows, with their line and the reason' });
    const cells = await rejected.getByRole('row').nth(1).getByRole('cell').allTextContents();
    assert.equal(cells[0], '3');
    assert.equal(cells[1], 'Email');
    assert.match(cells[2] ?? '', /"not-an-email" is not an e-mail address/);
    assert.equal(cells[3], 'not-an-email;Bob;;no');
    assert.equal(await rejected.getByRole('row').count(), 2);

    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download the rejected rows' }).click();
    const file = await download;
    assert.equal(file.suggestedFilename(), `customers-${run}.rejected.csv`);
    assert.equal(await readFile(await file.path(), 'utf8'), `${header}\nnot-an-email;Bob;;no\n`);
    await fixture.screenshot(page, 'data-import-done');

    const stored = (await (
      await fixture.adminFetch(`/api/profiles?identifier=email:ann.${run}@example.com`)
    ).json()) as {
      traits: Record<string, { value: unknown }>;
    };
    assert.equal(stored.traits.givenName?.value, 'Ann');

    await page.getByRole('link', { name: 'All imports' }).click();
    const listed = page.getByRole('row', { name: `Open the import of ${fileName}` });
    await listed.waitFor();
    const listedCells = await listed.getByRole('cell').allTextContents();
    assert.deepEqual(
      [listedCells[0], listedCells[1], listedCells[2], listedCells[4], listedCells[5], listedCells[6]],
      [fileName, 'Customers', 'Completed', '3', '2', '1'],
    );
    await page.setViewportSize({ width: 800, height: 900 });
    await fixture.screenshot(page, 'data-imports-list-800');
    await page.context().close();
  },
);

test(
  'a refused event waits in quarantine with its reason, and is fixed and replayed from the console',
  { skip: skipWithoutChromium, timeout: 90_000 },
  async () => {
    const created = await fixture.adminFetch('/api/sources', {
      method: 'POST',
      body: JSON.stringify({ name: `Till ${run}` }),
    });
    const source = (await created.json()) as { id: string; writeKey: string };
    const answer = await track(
      source.writeKey,
      {
        batch: [
          { type: 'track', userId: `ok-${run}`, event: 'Fine' },
          { type: 'track', event: `Quarantined ${run}`, properties: { sku: 'Q-1' } },
        ],
      },
      '/v1/batch',
    );
    assert.equal(answer.status, 200);

    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', '/quarantine');
    await page.getByLabel('Source').selectOption({ label: `Till ${run}` });
    const row = page.getByRole('row', { name: /CIBLE_ERR_TRACKING_MISSING_IDENTITY/ });
    await row.waitFor();
    // The unfiltered list may still be on screen for a moment: wait for the filtered one.
    const rows = page.getByRole('table').getByRole('row');
    for (let tries = 0; tries < 50 && (await rows.count()) !== 2; tries++) await page.waitForTimeout(100);
    assert.equal(await rows.count(), 2);
    assert.match((await row.textContent()) ?? '', /track, event 2 of its batch.*Pending/);
    await fixture.screenshot(page, 'data-quarantine-list');
    await row.click();
    await page.getByRole('heading', { level: 1, name: /^Rejected record #\d+$/ }).waitFor();
    assert.equal(await textOf(page, 'quarantine-code'), 'CIBLE_ERR_TRACKING_MISSING_IDENTITY');
    assert.match(await textOf(page, 'quarantine-reason'), /userId|anonymousId/);

    const editor = page.getByLabel('Corrected event (JSON)');
    const kept = JSON.parse(await editor.inputValue()) as Record<string, unknown>;
    assert.equal(kept.event, `Quarantined ${run}`);
    // Broken JSON is caught before sending; a correction still invalid is refused with the reason.
    await editor.fill('{"event": ');
    await page.getByText('This is not valid JSON:', { exact: false }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Replay the corrected event' }).isDisabled(), true);
    await editor.fill(JSON.stringify({ ...kept, properties: { sku: 'Q-2' } }, null, 2));
    await page.getByRole('button', { name: 'Replay the corrected event' }).click();
    await page.getByRole('alert').getByText('The replay was refused').waitFor();
    await fixture.screenshot(page, 'data-quarantine-editor');
    await editor.fill(JSON.stringify({ ...kept, userId: `fixed-${run}` }, null, 2));
    await page.getByRole('button', { name: 'Replay the corrected event' }).click();
    await page.getByText('Replayed: 1 event stored, 0 already stored.').waitFor();
    await page
      .getByRole('region', { name: 'Why it was refused' })
      .getByText('Replayed', { exact: true })
      .waitFor();
    assert.equal(await page.getByLabel('Corrected event (JSON)').count(), 0);
    await fixture.screenshot(page, 'data-quarantine-replayed');

    const events = (await (await fixture.adminFetch(`/api/events?userId=fixed-${run}`)).json()) as {
      events: { event: string; sourceId: string }[];
    };
    assert.deepEqual(
      events.events.map((event) => [event.event, event.sourceId]),
      [[`Quarantined ${run}`, source.id]],
    );

    await page.getByRole('link', { name: 'All rejected records' }).click();
    await page.getByLabel('Status').selectOption('replayed');
    await page.getByLabel('Source').selectOption({ label: `Till ${run}` });
    await page
      .getByRole('row', { name: /CIBLE_ERR_TRACKING_MISSING_IDENTITY/ })
      .getByText('Replayed')
      .waitFor();
    await page.setViewportSize({ width: 800, height: 900 });
    await fixture.screenshot(page, 'data-quarantine-replayed-list-800');
    await page.getByLabel('Language').selectOption('fr');
    await page.getByRole('heading', { level: 1, name: 'Quarantaine' }).waitFor();
    await page
      .getByRole('row', { name: /CIBLE_ERR_TRACKING_MISSING_IDENTITY/ })
      .getByText('Rejoué')
      .waitFor();
    await fixture.screenshot(page, 'data-quarantine-french-800');
    await page.context().close();
  },
);

test(
  'an analyst is told these screens are not for the role, and asks nothing the server would refuse',
  { skip: skipWithoutChromium, timeout: 90_000 },
  async () => {
    const page = await fixture.newPage();
    const refused: string[] = [];
    page.on('response', (response) => {
      if (response.status() === 403) refused.push(response.url());
    });
    await fixture.signIn(page, 'analyst', '/sources');
    await page
      .getByText('Sources and raw events are open to administrators and marketers.', { exact: false })
      .waitFor();
    // The navigation does not offer them; their addresses still answer.
    const links = await page.getByRole('navigation').getByRole('link').allTextContents();
    assert.deepEqual(
      links.filter((link) => ['Sources', 'Imports', 'Quarantine'].includes(link)),
      [],
    );
    await page.goto('/imports');
    await page.getByText('Imports bring in personal data', { exact: false }).waitFor();
    await page.goto('/quarantine');
    await page
      .getByText('the quarantine is open to administrators and marketers', { exact: false })
      .waitFor();
    assert.deepEqual(refused, []);
    await page.context().close();
  },
);
