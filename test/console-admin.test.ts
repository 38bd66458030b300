import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { skipWithoutChromium, startConsole, type ConsoleFixture } from './console-browser.ts';
import { basic, createSourceOver } from './helpers.ts';

// The overview, users and API tokens, and the audit log.

let fixture: ConsoleFixture;

/** Values unique to this run: the fixture may also hold a demo data set. */
const webSource = 'e2e-admin-web';
const appSource = 'e2e-admin-app';
const newUser = { email: 'nadia.marchand.e2e@example.org', password: 'nadia-password-9931' };
const tokenName = 'e2e reporting 9931';
let webKey = '';

async function send(url: string, writeKey: string, batch: Record<string, unknown>[]): Promise<void> {
  const response = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ batch }),
  });
  assert.equal(response.status, 200, await response.text());
}

async function seed(url: string): Promise<void> {
  webKey = await createSourceOver(url, webSource);
  const app = await createSourceOver(url, appSource);
  await send(url, webKey, [
    {
      type: 'identify',
      userId: 'e2e-admin-ines',
      traits: { email: 'ines.e2e@example.org' },
      context: { consent: { categoryPreferences: { email: true } } },
    },
    { type: 'track', userId: 'e2e-admin-ines', event: 'Product Viewed' },
    { type: 'track', userId: 'e2e-admin-ines', event: 'Order Completed', properties: { revenue: 42 } },
    { type: 'page', anonymousId: 'e2e-admin-anon-1', name: 'Home' },
    { type: 'page', anonymousId: 'e2e-admin-anon-1', name: 'Cart' },
  ]);
  await send(url, app, [
    { type: 'screen', anonymousId: 'e2e-admin-anon-2', name: 'Home' },
    { type: 'track', userId: 'e2e-admin-ines', event: 'App Opened' },
  ]);
}

interface OverviewAnswer {
  readonly totals: { readonly events: number; readonly profiles: number };
  readonly series: { readonly bySource: readonly { readonly name: string; readonly events: number }[] };
}

/** The value of the stat tile with this label. */
function stat(page: Page, label: string): Locator {
  return page
    .getByRole('group', { name: 'Key figures' })
    .locator('.stat')
    .filter({ has: page.locator('.stat-label', { hasText: new RegExp(`^${label}$`) }) })
    .locator('.stat-value');
}

before(async () => {
  if (skipWithoutChromium !== false) return;
  fixture = await startConsole({ seed });
});

after(async () => {
  if (skipWithoutChromium !== false) return;
  await fixture.close();
});

test(
  'the overview shows the counts, live events per minute and the charts by source and type',
  { skip: skipWithoutChromium },
  async () => {
    const answer = (await (
      await fixture.adminFetch('/api/overview?timeZone=Europe/Paris')
    ).json()) as OverviewAnswer;
    // What this test sent, whatever else the store holds.
    assert.deepEqual(
      answer.series.bySource
        .filter((row) => row.name.startsWith('e2e-admin-'))
        .map((row) => [row.name, row.events]),
      [
        [webSource, 5],
        [appSource, 2],
      ],
    );
    const page = await fixture.newPage({ locale: 'en-GB' });
    await fixture.signIn(page, 'admin');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const number = (value: number) => new Intl.NumberFormat('en-GB').format(value);
    assert.equal(await stat(page, 'Events').textContent(), number(answer.totals.events));
    assert.equal(await stat(page, 'Profiles').textContent(), number(answer.totals.profiles));
    assert.match((await stat(page, 'Identified').textContent()) ?? '', /^\d+(\.\d)?%$/);
    assert.ok(
      (await page.getByRole('link', { name: 'Review the rejected events' }).count()) +
        (await page.getByText('Nothing waiting').count()) ===
        1,
    );
    // Three charts drawn: events per minute, by source, by type.
    await page
      .getByRole('img', { name: /^Bar chart of the events received/ })
      .locator('canvas')
      .waitFor();
    const bySource = page.getByRole('img', {
      name: new RegExp(`^Events by source.*${webSource} 5.*${appSource} 2`),
    });
    await bySource.locator('canvas').waitFor();
    const byType = page.getByRole('img', {
      name: /^Events by type, stacked, per day.*track.*page.*screen.*identify/,
    });
    await byType.locator('canvas').waitFor();
    assert.equal(await page.locator('.chart canvas').count(), 3);
    assert.equal(
      await page.getByRole('region', { name: 'Data quality' }).getByText('Valid e-mail address').count(),
      1,
    );
    await fixture.screenshot(page, 'admin-overview');

    // The live chart asks again every 5 seconds: a new event shows without reloading.
    const before = Number(((await stat(page, 'Events').textContent()) ?? '').replace(/\D/g, ''));
    await send(fixture.url, webKey, [{ type: 'track', userId: 'e2e-admin-ines', event: 'Live Check' }]);
    const deadline = Date.now() + 8_000;
    let shown = before;
    while (shown !== before + 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      shown = Number(((await stat(page, 'Events').textContent()) ?? '').replace(/\D/g, ''));
    }
    assert.equal(shown, before + 1, 'the Events tile follows the live query');

    // The period is in the address; 24 hours are drawn hour by hour.
    await page.getByLabel('Period', { exact: true }).selectOption('1');
    await page.getByRole('img', { name: /^Events by source, stacked, per hour/ }).waitFor();
    assert.match(page.url(), /\?days=1$/);

    // On a tablet, in French.
    const narrow = await fixture.newPage({ width: 800, height: 1000, locale: 'fr-FR' });
    await fixture.signIn(narrow, 'admin');
    await narrow.getByRole('heading', { level: 1, name: "Vue d'ensemble" }).waitFor();
    await narrow
      .getByRole('img', { name: /^Événements par type, empilés, par jour/ })
      .locator('canvas')
      .waitFor();
    await fixture.screenshot(narrow, 'admin-overview-800');
    await narrow.context().close();
    await page.context().close();
  },
);

test(
  'before the first source, the overview invites to create one',
  { skip: skipWithoutChromium },
  async () => {
    // The answer of a new install: the real one, with no source and no event.
    const asNewInstall = async (page: Page) =>
      page.route('**/api/overview?*', async (route) => {
        const response = await route.fetch();
        const body = (await response.json()) as { totals: Record<string, number> };
        await route.fulfill({
          response,
          json: { ...body, totals: { ...body.totals, sources: 0, events: 0 } },
        });
      });
    const page = await fixture.newPage();
    await asNewInstall(page);
    await fixture.signIn(page, 'admin');
    await page.getByRole('heading', { level: 2, name: 'Nothing has come in yet' }).waitFor();
    assert.equal(await page.locator('.chart').count(), 0);
    assert.equal(await page.getByLabel('Period', { exact: true }).count(), 0);
    await fixture.screenshot(page, 'admin-overview-new-install');
    await page.getByRole('link', { name: 'Create a source' }).click();
    await page.waitForURL('**/sources');
    await page.context().close();

    const marketer = await fixture.newPage();
    await asNewInstall(marketer);
    await fixture.signIn(marketer, 'marketer');
    await marketer.getByText('Sources are created by an administrator: ask one for a write key.').waitFor();
    assert.equal(await marketer.getByRole('link', { name: 'Create a source' }).count(), 0);
    await marketer.context().close();
  },
);

test(
  'an administrator adds a marketer, who can then sign in with the password given',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'admin', '/users');
    await page.getByRole('heading', { level: 1, name: 'Users and tokens' }).waitFor();
    const form = page.getByRole('region', { name: 'Add a user' });
    await form.getByLabel('Email', { exact: true }).fill(newUser.email);
    await form.getByLabel('Password', { exact: true }).fill(newUser.password);
    await form.getByLabel('Role', { exact: true }).selectOption({ label: 'Marketer' });
    await form.getByRole('button', { name: 'Add the user' }).click();
    await form
      .getByRole('status')
      .filter({ hasText: `${newUser.email} can now sign in as Marketer.` })
      .waitFor();
    const users = page.getByRole('region', { name: 'Console users' });
    const row = users.getByRole('row').filter({ hasText: newUser.email });
    await row.waitFor();
    assert.equal(await row.getByLabel(`Role of ${newUser.email}`).inputValue(), 'marketer');
    await row.getByText('Never').waitFor();
    assert.match(await row.innerText(), /Active/);
    // One's own account cannot be changed here.
    const own = users.getByRole('row').filter({ hasText: 'admin@example.test' });
    assert.equal(await own.getByRole('button').count(), 0);
    await fixture.screenshot(page, 'admin-users');

    const other = await fixture.newPage();
    await other.goto('/');
    await other.getByLabel('Email').fill(newUser.email);
    await other.getByLabel('Password').fill(newUser.password);
    await other.getByRole('button', { name: 'Sign in' }).click();
    await other.getByTestId('who').waitFor();
    assert.match(
      (await other.getByTestId('who').textContent()) ?? '',
      /nadia\.marchand\.e2e@example\.org.*Marketer/,
    );
    await other.context().close();

    // The sign-in shows as the user's last.
    await page.reload();
    const signedIn = page
      .getByRole('region', { name: 'Console users' })
      .getByRole('row')
      .filter({ hasText: newUser.email });
    await signedIn.getByText(/seconds? ago|now/).waitFor();
    await page.context().close();
  },
);

test(
  'an API token is shown once, works as a Bearer token, and is refused once revoked',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await fixture.signIn(page, 'admin', '/users');
    const form = page.getByRole('region', { name: 'Create an API token' });
    await form.getByLabel('Name', { exact: true }).fill(tokenName);
    await form.getByLabel('Role', { exact: true }).selectOption({ label: 'Analyst' });
    await form.getByRole('button', { name: 'Create the token' }).click();
    const shown = page.getByTestId('new-token');
    await shown.waitFor();
    const token = (await shown.textContent()) ?? '';
    assert.match(token, /^cible_[\w-]{40,}$/);
    await page
      .getByText('Copy it now: Cible keeps only a hash of it and will never show it again.')
      .waitFor();
    await page.getByRole('button', { name: 'Copy the API token' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied the API token to the clipboard.' }).waitFor();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), token);
    await fixture.screenshot(page, 'admin-token-created');

    const stats = (bearer: string) =>
      fetch(`${fixture.url}/api/stats`, { headers: { authorization: `Bearer ${bearer}` } });
    assert.equal((await stats(token)).status, 200);

    // Once dismissed, or after a reload, the secret is nowhere on the page.
    await page.getByRole('button', { name: 'I have copied it' }).click();
    assert.equal(await page.getByTestId('new-token').count(), 0);
    await page.reload();
    const tokens = page.getByRole('region', { name: 'API tokens' });
    const row = tokens.getByRole('row').filter({ hasText: tokenName });
    await row.waitFor();
    assert.equal((await page.content()).includes(token), false);
    assert.match(await row.innerText(), /Analyst/);

    await row.getByRole('button', { name: `Revoke ${tokenName}` }).click();
    const dialog = page.getByRole('dialog', { name: `Revoke the token "${tokenName}"?` });
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText(/^Revoked /).waitFor();
    assert.equal(await row.getByRole('button').count(), 0);
    const refused = await stats(token);
    assert.equal(refused.status, 401);
    assert.equal(
      ((await refused.json()) as { error: { code: string } }).error.code,
      'CIBLE_ERR_AUTH_TOKEN_REVOKED',
    );

    const narrow = await fixture.newPage({ width: 800, height: 1000 });
    await fixture.signIn(narrow, 'admin', '/users');
    await narrow
      .getByRole('region', { name: 'API tokens' })
      .getByRole('row')
      .filter({ hasText: tokenName })
      .waitFor();
    await fixture.screenshot(narrow, 'admin-users-800');
    await narrow.context().close();
    await page.context().close();
  },
);

test(
  'the audit log lists the user and token creations, filtered by action and by who',
  { skip: skipWithoutChromium },
  async () => {
    const users = (await (await fixture.adminFetch('/api/users')).json()) as {
      users: { id: string; email: string }[];
    };
    const nadia = users.users.find((user) => user.email === newUser.email);
    const tokens = (await (await fixture.adminFetch('/api/tokens')).json()) as {
      tokens: { id: string; name: string }[];
    };
    const token = tokens.tokens.find((candidate) => candidate.name === tokenName);
    assert.ok(nadia !== undefined && token !== undefined, 'the earlier tests created them');

    const page = await fixture.newPage();
    await fixture.signIn(page, 'admin', '/audit');
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    const entries = page.getByRole('region', { name: 'Entries' });
    await entries.getByRole('row').nth(1).waitFor();

    await page.getByLabel('Action', { exact: true }).selectOption('user.create');
    const created = entries
      .getByRole('row')
      .filter({ hasText: newUser.email })
      .filter({ hasText: 'user.create' });
    await created.waitFor();
    assert.match(
      await created.innerText(),
      /admin@example\.test[\s\S]*user\.create[\s\S]*users nadia[\s\S]*Done/,
    );
    assert.match(await created.innerText(), /role: marketer/);
    // The target by name, its id at hand.
    assert.equal(await created.locator('.admin-target').getAttribute('title'), nadia.id);
    assert.match(page.url(), /action=user\.create/);

    // The console users of the fixture were created with the admin token, Nadia by admin@example.test.
    await page.getByLabel('Who', { exact: true }).selectOption({ label: 'admin token' });
    await created.waitFor({ state: 'detached' });
    await entries.getByRole('row').filter({ hasText: 'admin token' }).first().waitFor();
    assert.match(page.url(), /actor=bootstrap/);
    const rows = (await entries.getByRole('row').allInnerTexts()).slice(1);
    assert.ok(rows.length >= 3, 'the three users of the fixture');
    for (const text of rows) {
      assert.match(text, /^[^\t]*\t\s*admin token\s[\s\S]*user\.create/);
    }

    await page.getByLabel('Action', { exact: true }).selectOption('token.create');
    await page.getByLabel('Who', { exact: true }).selectOption({ label: 'admin@example.test' });
    const tokenRow = entries
      .getByRole('row')
      .filter({ hasText: tokenName })
      .filter({ hasText: 'token.create' });
    await tokenRow.waitFor();
    assert.match(
      await tokenRow.innerText(),
      /admin@example\.test[\s\S]*token\.create[\s\S]*tokens e2e reporting 9931[\s\S]*role: analyst/,
    );
    assert.equal(await tokenRow.locator('.admin-target').getAttribute('title'), token.id);

    // A range that ended yesterday holds none of today's entries.
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel('To', { exact: true }).fill(yesterday);
    await entries.getByText('No entry matches these filters.').waitFor();
    await page.getByRole('button', { name: 'Clear the filters' }).click();
    await entries.getByRole('row').nth(1).waitFor();
    await fixture.screenshot(page, 'admin-audit');

    const narrow = await fixture.newPage({ width: 800, height: 1000 });
    await fixture.signIn(narrow, 'admin', '/audit?action=session.login');
    await narrow.getByRole('region', { name: 'Entries' }).getByRole('row').nth(1).waitFor();
    await fixture.screenshot(narrow, 'admin-audit-800');
    await narrow.context().close();
    await page.context().close();
  },
);

test(
  'a marketer who opens the admin screens by their address sees that the role does not allow it',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer', '/users');
    await page.getByRole('heading', { level: 1, name: 'Users and tokens' }).waitFor();
    assert.match(
      await page.getByRole('alert').innerText(),
      /^Your role does not allow this\.\s+Back to the overview$/,
    );
    assert.equal(await page.getByRole('table').count(), 0);
    await fixture.screenshot(page, 'admin-users-forbidden');
    await page.goto('/audit');
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    await page.getByText('Your role does not allow this.').waitFor();
    const links = await page
      .getByRole('navigation', { name: 'Main navigation' })
      .getByRole('link')
      .allTextContents();
    assert.equal(links.includes('Users and tokens'), false);
    await page.context().close();
  },
);
