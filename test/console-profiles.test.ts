import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { parseSearchText } from '../web/src/screens/profiles/search-text.ts';
import { skipWithoutChromium, startConsole, type ConsoleFixture } from './console-browser.ts';
import { adminGet, basic, createSourceOver } from './helpers.ts';

// The profile screens: search, the 360° view, unmerge and erase, and what an analyst may see.

let fixture: ConsoleFixture;

/** Values unique to this run: the fixture may also hold a demo data set. */
const camille = {
  email: 'camille.roussel.e2e@example.org',
  userId: 'e2e-camille-7731',
  phoneDevice: 'e2e-phone-device-7731',
  laptopDevice: 'e2e-laptop-device-7731',
};
const bastien = { email: 'bastien.lemaire.e2e@example.org', userId: 'e2e-bastien-7731' };
const lou = { userId: 'e2e-lou-7731' };
let camilleId = 0;
let bastienId = 0;
let louId = 0;

async function send(url: string, writeKey: string, batch: Record<string, unknown>[]): Promise<void> {
  const response = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ batch }),
  });
  const answer = (await response.json()) as { rejected: unknown[] };
  assert.equal(response.status, 200);
  assert.deepEqual(answer.rejected, []);
}

async function seed(url: string): Promise<void> {
  const web = await createSourceOver(url, 'web');
  const shop = await createSourceOver(url, 'shop');
  const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const library = { library: { name: 'analytics.js', version: '5.2.1' } };
  // Anonymous on a phone, then on a laptop; signs up on the laptop, signs in on the phone.
  await send(url, web, [
    {
      type: 'page',
      anonymousId: camille.phoneDevice,
      name: 'Home',
      properties: { path: '/' },
      timestamp: minutesAgo(120),
      context: library,
    },
    {
      type: 'page',
      anonymousId: camille.laptopDevice,
      name: 'Boots',
      properties: { path: '/boots' },
      timestamp: minutesAgo(90),
      context: library,
    },
    {
      type: 'identify',
      anonymousId: camille.laptopDevice,
      userId: camille.userId,
      traits: { email: camille.email, firstName: 'Camille', lastName: 'Roussel' },
      timestamp: minutesAgo(80),
      context: library,
    },
    {
      type: 'track',
      anonymousId: camille.phoneDevice,
      userId: camille.userId,
      event: 'Signed In',
      timestamp: minutesAgo(60),
      context: { ...library, channel: 'mobile' },
    },
    {
      type: 'track',
      userId: camille.userId,
      event: 'Consent Updated',
      properties: { purposes: { email: 'granted', sms: 'denied' }, method: 'signup form' },
      timestamp: minutesAgo(59),
      context: library,
    },
  ]);
  await send(url, shop, [
    {
      type: 'identify',
      userId: camille.userId,
      traits: { city: 'Rennes' },
      timestamp: minutesAgo(30),
    },
    {
      type: 'track',
      userId: camille.userId,
      event: 'Order Completed',
      properties: { orderId: 'E2E-1001', revenue: 89.5, currency: 'EUR' },
      timestamp: minutesAgo(29),
    },
    {
      type: 'identify',
      userId: bastien.userId,
      traits: { email: bastien.email, firstName: 'Bastien', lastName: 'Lemaire', city: 'Brest' },
      timestamp: minutesAgo(20),
    },
  ]);
  await send(
    url,
    web,
    Array.from({ length: 30 }, (_, index) => ({
      type: 'track',
      userId: lou.userId,
      event: 'Product Viewed',
      properties: { sku: `SKU-${100 + index}` },
      timestamp: minutesAgo(300 - index),
    })),
  );
  louId = (await adminGet<{ id: number }>(url, `/api/profiles?identifier=userId:${lou.userId}`)).id;
  camilleId = (await adminGet<{ id: number }>(url, `/api/profiles?identifier=userId:${camille.userId}`)).id;
  bastienId = (await adminGet<{ id: number }>(url, `/api/profiles?identifier=userId:${bastien.userId}`)).id;
}

before(async () => {
  if (skipWithoutChromium !== false) return;
  fixture = await startConsole({ seed });
});

after(async () => {
  if (skipWithoutChromium !== false) return;
  await fixture.close();
});

test('the search box reads identifiers, names, traits and profile numbers', () => {
  assert.deepEqual(parseSearchText('  '), { kind: 'empty' });
  assert.deepEqual(parseSearchText('#42'), { kind: 'open', id: 42 });
  assert.deepEqual(parseSearchText('id:7'), { kind: 'open', id: 7 });
  const query = (text: string) => {
    const request = parseSearchText(text);
    return request.kind === 'search' ? request.query : request;
  };
  assert.deepEqual(query('Jane.Doe@Example.com'), { q: 'Jane.Doe@Example.com' });
  assert.deepEqual(query('jane doe'), { q: 'jane doe' });
  assert.deepEqual(query('+33 6 12 34 56 78'), { q: '+33 6 12 34 56 78' });
  assert.deepEqual(query('email:jane@'), { q: 'email:jane@' });
  assert.deepEqual(query('USERID:u-42'), { q: 'userId:u-42' });
  assert.deepEqual(query('phone:06 12 34'), { q: 'phone:06 12 34' });
  assert.deepEqual(query('city:New York plan:pre*'), { 'trait.city': 'New York', 'trait.plan': 'pre*' });
  assert.deepEqual(query('jane city:Paris'), { q: 'jane', 'trait.city': 'Paris' });
  assert.deepEqual(query('trait.address.postal_code:750*'), { 'trait.address.postal_code': '750*' });
  assert.deepEqual(query('email:a@b.c userId:u'), { kind: 'invalid', reason: 'twoIdentifiers' });
  assert.deepEqual(query('city:'), { kind: 'invalid', reason: 'emptyValue', name: 'city' });
  const traitsOnly = parseSearchText('city:Paris');
  assert.equal(traitsOnly.kind === 'search' && traitsOnly.personal, false);
});

/** Every text of the page, dialogs included. */
const pageText = (page: Page) => page.evaluate<string>('document.body.innerText');

test(
  'a marketer finds a person by e-mail and reads the 360° view',
  { skip: skipWithoutChromium },
  async () => {
    const started = Date.now();
    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', '/profiles');
    await page.getByRole('heading', { level: 1, name: 'Profiles' }).waitFor();
    await page.getByLabel('Find a person').fill(camille.email.toUpperCase());
    await page.keyboard.press('Enter');
    const results = page.getByRole('table');
    await results.getByRole('row', { name: `Open profile ${camilleId}` }).waitFor();
    // The search text stays out of the address.
    assert.equal(new URL(page.url()).search, '');
    const rows = await results.locator('tbody tr').all();
    assert.equal(rows.length, 1);
    const cells = (await rows[0]!.locator('td').allInnerTexts()).map((text) => text.trim());
    assert.deepEqual(cells.slice(0, 4), [`#${camilleId}`, 'Camille Roussel', camille.email, 'Rennes']);
    assert.match(cells[4] ?? '', /^\d+ minutes ago$/);
    assert.equal(cells[5], '7');
    await fixture.screenshot(page, 'profiles-search');

    // By keyboard: the row takes the focus and Enter opens it.
    await rows[0]!.focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('profile-name').waitFor();
    assert.equal(new URL(page.url()).pathname, `/profiles/${camilleId}`);
    assert.equal(await page.title(), `Profile ${camilleId} · Cible`);
    assert.equal(await page.getByTestId('profile-name').textContent(), 'Camille Roussel');

    const identifiers = page.getByRole('region', { name: 'Identifiers' });
    const identifierRows = (await identifiers.locator('tbody tr').allInnerTexts()).map((row) =>
      row.split('\t').slice(0, 2).join(' ').trim(),
    );
    assert.deepEqual(identifierRows.sort(), [
      `anonymousId ${camille.laptopDevice}`,
      `anonymousId ${camille.phoneDevice}`,
      `email ${camille.email}`,
      `userId ${camille.userId}`,
    ]);
    const traits = page.getByRole('region', { name: 'Traits' });
    const city = (
      await traits.getByRole('row').filter({ hasText: 'city' }).locator('td').allInnerTexts()
    ).map((text) => text.trim());
    assert.deepEqual(city.slice(0, 3), ['city', 'Rennes', 'shop']);
    const firstName = await traits
      .getByRole('row')
      .filter({ hasText: 'firstName' })
      .locator('td')
      .allInnerTexts();
    assert.equal(firstName[2]?.trim(), 'web');

    const overview = page.getByRole('region', { name: 'Overview' });
    assert.match(await overview.innerText(), /Purchases\s*1/);
    assert.match(await overview.innerText(), /Revenue\s*€89\.50/);
    assert.match(await overview.innerText(), /Made of 2 profiles/);

    const consent = page.getByRole('region', { name: 'Consent' });
    assert.match(await consent.getByTestId('consent-email').innerText(), /E-mail\s*Granted/);
    assert.match(await consent.getByTestId('consent-sms').innerText(), /SMS\s*Denied/);
    assert.match(await consent.getByTestId('consent-email').innerText(), /event · web · signup form/);
    await consent.getByText('History (2 changes)').click();
    assert.equal(await consent.locator('.consent-changes li').count(), 2);

    const timeline = page.getByRole('region', { name: 'Timeline' });
    await timeline.getByTestId('timeline-row').first().waitFor();
    const events = await timeline.locator('.timeline-name').allInnerTexts();
    assert.deepEqual(events, [
      'Order Completed',
      'Identified',
      'Consent Updated',
      'Signed In',
      'Identified',
      'Boots',
      'Home',
    ]);
    const order = await timeline.getByTestId('timeline-row').first().innerText();
    assert.match(order, /shop/);
    assert.match(order, /orderId\s*E2E-1001/);
    assert.match(order, /revenue\s*89\.5/);
    assert.match(await timeline.getByTestId('timeline-row').nth(3).innerText(), /web · mobile/);

    const merges = page.getByRole('region', { name: 'Merge history' });
    assert.equal(await merges.getByTestId('merge').count(), 1);
    assert.match(await merges.innerText(), new RegExp(`shared anonymousId ${camille.phoneDevice}`));
    assert.equal(await merges.getByRole('button', { name: /^Unmerge profile #/ }).count(), 1);
    // A marketer exports but does not erase.
    assert.equal(await page.getByRole('button', { name: 'Erase…' }).count(), 0);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export JSON' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `profile-${camilleId}.json`);
    assert.equal(
      await page.getByRole('link', { name: 'Export ZIP' }).getAttribute('href'),
      `/api/profiles/${camilleId}/export?format=zip`,
    );
    await fixture.screenshot(page, 'profiles-360');
    console.log(`# search and 360° view: ${Date.now() - started} ms`);

    // Searching by a trait and by a name finds the same person.
    await page.getByRole('link', { name: '← Back to the search' }).click();
    assert.equal(await page.getByLabel('Find a person').inputValue(), camille.email.toUpperCase());
    await page.getByLabel('Find a person').fill('camille r city:rennes');
    await page.keyboard.press('Enter');
    await results.getByRole('row', { name: `Open profile ${camilleId}` }).waitFor();
    await page.context().close();
  },
);

test('the timeline loads 25 events at a time, newest first', { skip: skipWithoutChromium }, async () => {
  const page = await fixture.newPage();
  await fixture.signIn(page, 'marketer', `/profiles/${louId}`);
  const timeline = page.getByRole('region', { name: 'Timeline' });
  const rows = timeline.getByTestId('timeline-row');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 25);
  assert.match(await rows.first().innerText(), /SKU-129/);
  await timeline.getByRole('button', { name: 'Load more' }).click();
  await rows.nth(29).waitFor();
  assert.equal(await rows.count(), 30);
  assert.match(await rows.last().innerText(), /SKU-100/);
  assert.equal(await timeline.getByRole('button', { name: 'Load more' }).count(), 0);
  await page.context().close();
});

test(
  'a marketer unmerges a device after confirming; its identifiers leave the person',
  { skip: skipWithoutChromium },
  async () => {
    interface Merged {
      members: number[];
      identifiers: { value: string; originProfileId: number }[];
      merges: { survivor: number; absorbed: number }[];
    }
    const before = await adminGet<Merged>(fixture.url, `/api/profiles/${camilleId}`);
    assert.equal(before.merges.length, 1);
    const { absorbed, survivor } = before.merges[0]!;
    const leaving = before.identifiers
      .filter((row) => row.originProfileId === absorbed)
      .map((row) => row.value);
    assert.ok(leaving.length > 0);

    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', `/profiles/${survivor}`);
    const merges = page.getByRole('region', { name: 'Merge history' });
    const identifiers = page.getByRole('region', { name: 'Identifiers' });
    await merges.getByTestId('merge').first().waitFor();
    for (const value of leaving) assert.ok((await identifiers.innerText()).includes(value));
    await merges.getByRole('button', { name: `Unmerge profile #${absorbed}` }).click();
    const dialog = page.getByRole('dialog', { name: `Unmerge profile #${absorbed}?` });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /becomes a person of its own again/);
    await fixture.screenshot(page, 'profiles-unmerge-dialog');
    await dialog.getByRole('button', { name: 'Unmerge' }).click();
    await page.getByText(`Profile ${absorbed} is a separate profile again.`).waitFor();
    await merges.getByText('Undone', { exact: true }).waitFor();
    assert.equal(await merges.getByRole('button', { name: /^Unmerge/ }).count(), 0);
    // The view was fetched again: the absorbed profile's identifiers are gone from it.
    const shown = await identifiers.innerText();
    for (const value of leaving) assert.equal(shown.includes(value), false, `${value} still shown`);
    const after = await adminGet<Merged>(fixture.url, `/api/profiles/${survivor}`);
    assert.deepEqual(after.members, [survivor]);
    await page.getByRole('link', { name: `Open profile ${absorbed}` }).click();
    await page.waitForURL(`**/profiles/${absorbed}`);
    const restored = await page.getByRole('region', { name: 'Identifiers' }).innerText();
    for (const value of leaving) assert.ok(restored.includes(value), `${value} on the restored profile`);
    await page.context().close();
  },
);

test(
  'an admin erases a person after reading what goes; the search no longer finds them',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'admin', `/profiles/${bastienId}`);
    await page.getByTestId('profile-name').waitFor();
    await page.getByRole('button', { name: 'Erase…' }).click();
    const dialog = page.getByRole('dialog', { name: `Erase profile ${bastienId}?` });
    await dialog.waitFor();
    const text = await dialog.innerText();
    assert.match(text, /2 identifiers/);
    assert.match(text, /1 event\b/);
    assert.match(text, /This cannot be undone/);
    await fixture.screenshot(page, 'profiles-erase-dialog');
    // Cancel keeps everything.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await fixture.adminFetch(`/api/profiles/${bastienId}`)).status, 200);
    await page.getByRole('button', { name: 'Erase…' }).click();
    await dialog.getByRole('button', { name: 'Erase for good' }).click();
    await page.getByText(`Profile ${bastienId} was erased.`).waitFor();
    assert.equal(new URL(page.url()).pathname, '/profiles');
    assert.equal((await fixture.adminFetch(`/api/profiles/${bastienId}`)).status, 404);
    await page.getByLabel('Find a person').fill(bastien.email);
    await page.keyboard.press('Enter');
    await page.getByText('No profile matches this search.').waitFor();
    await page.context().close();
  },
);

test(
  'an analyst opens a profile and sees no identifier, name or e-mail address in clear',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    const { id } = await adminGet<{ id: number }>(
      fixture.url,
      `/api/profiles?identifier=userId:${camille.userId}`,
    );
    await fixture.signIn(page, 'analyst', '/profiles');
    // A personal look-up is refused in place, without asking the server.
    await page.getByLabel('Find a person').fill(camille.email);
    await page.keyboard.press('Enter');
    await page.getByText('Your role cannot look people up by identifier').waitFor();
    // A trait that identifies no one is allowed.
    await page.getByLabel('Find a person').fill('city:Rennes');
    await page.keyboard.press('Enter');
    await page.getByRole('row', { name: `Open profile ${id}` }).click();
    await page.getByTestId('profile-name').waitFor();
    assert.equal(await page.getByTestId('profile-name').textContent(), `Profile #${id}`);
    await page.getByRole('region', { name: 'Identifiers' }).locator('tbody tr').first().waitFor();
    const text = await pageText(page);
    for (const secret of [
      camille.email,
      camille.userId,
      camille.laptopDevice,
      'Camille',
      'Roussel',
      'camille',
    ]) {
      assert.equal(text.includes(secret), false, `${secret} is shown to an analyst`);
    }
    assert.equal((await page.content()).includes(camille.email), false, 'not even in attributes');
    assert.match(text, /Identifiers are pseudonymised for your role/);
    assert.match(await page.getByRole('region', { name: 'Identifiers' }).innerText(), /ps_/);
    assert.match(text, /Your role does not see raw events/);
    assert.equal(await page.getByRole('link', { name: 'Export JSON' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /^Unmerge/ }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Erase…' }).count(), 0);
    await fixture.screenshot(page, 'profiles-analyst');
    await page.context().close();
  },
);

test(
  'the 360° view stacks into one column on a tablet, in French',
  { skip: skipWithoutChromium },
  async () => {
    const { id } = await adminGet<{ id: number }>(
      fixture.url,
      `/api/profiles?identifier=userId:${camille.userId}`,
    );
    const page = await fixture.newPage({ width: 800, height: 1000, locale: 'fr-FR' });
    await fixture.signIn(page, 'marketer', `/profiles/${id}`);
    await page.getByTestId('profile-name').waitFor();
    await page.getByRole('region', { name: 'Chronologie' }).getByTestId('timeline-row').first().waitFor();
    const columns = await page.evaluate<number>(
      "getComputedStyle(document.querySelector('.profile-grid')).gridTemplateColumns.split(' ').length",
    );
    assert.equal(columns, 1);
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    assert.ok(await page.getByRole('region', { name: 'Consentement' }).isVisible());
    await fixture.screenshot(page, 'profiles-360-tablet');
    await page.context().close();
  },
);
