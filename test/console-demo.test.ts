import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { skipWithoutChromium, startConsole, type ConsoleFixture } from './console-browser.ts';

// A newcomer's first visit, on the demo data set: sign in, find a person, open their 360° view,
// build and save a segment, import a file with a bad row, read it all in French.

let fixture: ConsoleFixture;

before(async () => {
  if (skipWithoutChromium !== false) return;
  fixture = await startConsole({ demoPeople: 150 });
});

after(async () => {
  if (skipWithoutChromium !== false) return;
  await fixture.close();
});

/** Waits for the overview's three charts to be drawn, for the screenshot. */
async function chartsDrawn(page: Page): Promise<void> {
  await page.locator('.chart canvas').nth(2).waitFor();
  for (let tries = 0; tries < 50 && (await page.locator('.chart-loading').count()) > 0; tries++) {
    await page.waitForTimeout(100);
  }
}

/** A person of the demo who signed up on the web site: their e-mail and user id. */
function signedUpPerson(): { email: string; userId: string } {
  const web = fixture.demo!.data.sources.find((source) => source.key === 'web')!;
  for (const event of web.events) {
    const traits = event.traits as { email?: string } | undefined;
    if (event.type === 'identify' && typeof event.userId === 'string' && typeof traits?.email === 'string') {
      return { email: traits.email.toLowerCase(), userId: event.userId };
    }
  }
  throw new Error('The demo has no identify call with an e-mail.');
}

test(
  'on the demo data, a marketer finds a person and opens their 360° view',
  { skip: skipWithoutChromium, timeout: 60_000 },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await chartsDrawn(page);
    await fixture.screenshot(page, 'demo-overview');

    const person = signedUpPerson();
    const found = (await (
      await fixture.adminFetch(`/api/profiles?identifier=email:${person.email}`)
    ).json()) as {
      id: string;
      identifiers: { type: string; value: string }[];
    };
    await page.getByRole('link', { name: 'Profiles' }).click();
    await page.getByLabel('Find a person').fill(person.email);
    await page.keyboard.press('Enter');
    await page.getByRole('row', { name: `Open profile ${found.id}` }).click();
    await page.getByTestId('profile-name').waitFor();
    assert.equal(new URL(page.url()).pathname, `/profiles/${found.id}`);
    const identifiers = page.getByRole('region', { name: 'Identifiers' });
    const shown = await identifiers.locator('tbody tr').count();
    assert.equal(shown, found.identifiers.length);
    assert.ok(shown >= 3, `a demo journey leaves several identifiers (${shown})`);
    assert.match((await identifiers.textContent()) ?? '', new RegExp(person.email.replace(/[.+]/g, '\\$&')));
    // The timeline loads on its own request: wait for its first entry.
    await page.getByRole('region', { name: 'Timeline' }).locator('li').first().waitFor();
    await fixture.screenshot(page, 'demo-profile');
    await page.context().close();
  },
);

test(
  'on the demo data, a marketer builds a segment, sees its size and saves it',
  { skip: skipWithoutChromium, timeout: 60_000 },
  async () => {
    const rule = 'trait city = "Paris" and count(event "Order Completed" in last 90 days) >= 1';
    const expected = (await (
      await fixture.adminFetch('/api/segments/preview', { method: 'POST', body: JSON.stringify({ rule }) })
    ).json()) as { size: number };
    assert.ok(expected.size > 0, 'the demo has Parisian buyers');
    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', '/segments/new');
    await page.getByLabel('Name', { exact: true }).fill('Parisian buyers');
    await page.getByLabel('Rule', { exact: true }).fill(rule);
    await page
      .getByTestId('preview-size')
      .filter({ hasText: new RegExp(`^${expected.size}$`) })
      .waitFor();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { level: 1, name: 'Parisian buyers' }).waitFor();
    const { segments } = (await (await fixture.adminFetch('/api/segments')).json()) as {
      segments: { name: string; size: number }[];
    };
    assert.equal(segments.find((segment) => segment.name === 'Parisian buyers')?.size, expected.size);
    await fixture.screenshot(page, 'demo-segment');
    await page.context().close();
  },
);

test(
  'on the demo data, an import with a bad row shows the rejection; the console reads in French',
  { skip: skipWithoutChromium, timeout: 60_000 },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', '/imports');
    // The demo's own CRM import is listed with its rejected rows.
    const crm = fixture.demo!.data.crm;
    await page.getByRole('row', { name: `Open the import of ${crm.fileName}` }).waitFor();
    await page.getByRole('link', { name: 'New import' }).click();
    const csv = ['Email;First name', 'new.customer@example.com;Nina', 'not-an-email;Bob', ''].join('\n');
    await page.getByLabel('File to import').setInputFiles({
      name: 'shop-signups.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(csv),
    });
    await page.getByRole('heading', { name: 'Preview of the first 2 rows' }).waitFor();
    await page.getByRole('button', { name: 'Run the import' }).click();
    await page
      .getByText('Completed: 1 row could not be imported', { exact: false })
      .waitFor({ timeout: 20_000 });
    const rejected = page.getByRole('table', { name: 'Rejected rows, with their line and the reason' });
    const cells = await rejected.getByRole('row').nth(1).getByRole('cell').allTextContents();
    assert.equal(cells[0], '3');
    assert.match(cells[2] ?? '', /not-an-email/);
    await fixture.screenshot(page, 'demo-import-rejected');

    await page.getByLabel('Language').selectOption('fr');
    const navigation = page.getByRole('navigation', { name: 'Navigation principale' });
    await navigation.getByRole('link', { name: 'Profils' }).waitFor();
    await navigation.getByRole('link', { name: "Vue d'ensemble" }).click();
    await page.getByRole('heading', { level: 1, name: "Vue d'ensemble" }).waitFor();
    await chartsDrawn(page);
    await fixture.screenshot(page, 'demo-overview-french');
    await page.context().close();
  },
);
