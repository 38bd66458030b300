import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { skipWithoutChromium, startConsole, type ConsoleFixture } from './console-browser.ts';

let fixture: ConsoleFixture;

before(async () => {
  if (skipWithoutChromium !== false) return;
  fixture = await startConsole();
});

after(async () => {
  if (skipWithoutChromium !== false) return;
  await fixture.close();
});

test(
  'a wrong password is refused in place, the right one opens the console',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    await page.goto('/');
    await page.getByLabel('Email').fill('admin@example.test');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.equal(await page.getByRole('alert').textContent(), 'Wrong email or password.');
    await fixture.screenshot(page, 'shell-sign-in-refused');
    await page.getByLabel('Password').fill('admin-password-123');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('who').waitFor();
    assert.match((await page.getByTestId('who').textContent()) ?? '', /admin@example\.test.*Administrator/);
    const navigation = page.getByRole('navigation', { name: 'Main navigation' });
    assert.deepEqual(await navigation.getByRole('link').allTextContents(), [
      'Overview',
      'Sources',
      'Profiles',
      'Segments',
      'Imports',
      'Quarantine',
      'Users and tokens',
      'Audit log',
      'Privacy',
    ]);
    await fixture.screenshot(page, 'shell-signed-in');
    await page.context().close();
  },
);

test(
  'the language switch turns every label to French and is remembered',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'marketer');
    await page.getByLabel('Language').selectOption('fr');
    const navigation = page.getByRole('navigation', { name: 'Navigation principale' });
    assert.deepEqual(await navigation.getByRole('link').allTextContents(), [
      "Vue d'ensemble",
      'Sources',
      'Profils',
      'Segments',
      'Imports',
      'Quarantaine',
    ]);
    assert.equal(await page.locator('html').getAttribute('lang'), 'fr');
    await page.reload();
    await page.getByTestId('who').waitFor();
    assert.match((await page.getByTestId('who').textContent()) ?? '', /Connecté en tant que .*Marketeur/);
    await fixture.screenshot(page, 'shell-french');
    await page.context().close();
  },
);

test(
  'a French browser starts in French; an analyst sees only the screens of aggregates and pseudonyms',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage({ locale: 'fr-FR' });
    await page.goto('/');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Connexion à Cible');
    await fixture.signIn(page, 'analyst');
    const links = await page.getByRole('navigation').getByRole('link').allTextContents();
    assert.deepEqual(links, ["Vue d'ensemble", 'Profils', 'Segments']);
    await page.context().close();
  },
);

test(
  'a deep link opens its screen after sign-in; an unknown address says so',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'admin', '/segments');
    await page.getByRole('heading', { level: 1, name: 'Segments' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/segments');
    await page.goto('/no-such-screen');
    await page.getByText('There is no page at this address.').waitFor();
    const api = await page.request.get('/api/no-such-route');
    assert.equal(api.status(), 404);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'CIBLE_ERR_API_NOT_FOUND');
    await page.context().close();
  },
);

test(
  'signing out returns to the sign-in form and the session is gone',
  { skip: skipWithoutChromium },
  async () => {
    const page = await fixture.newPage();
    await fixture.signIn(page, 'admin');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Cible' }).waitFor();
    const session = await page.request.get('/api/session');
    assert.equal(session.status(), 401);
    await page.context().close();
  },
);
