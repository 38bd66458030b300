import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildConsoleInto } from '../src/cli/build-console.ts';
import { generateDemo, type DemoData } from '../src/demo/demo-data.ts';
import { loadDemo, type DemoLoadReport } from '../src/demo/load-demo.ts';
import type { CibleProcess } from './cible-process.ts';
import { adminToken, removeTestDir, repoRoot, spawnCible, testDataDir } from './helpers.ts';

// End-to-end tests of the console: a real Cible process, its production build, Debian's Chromium.

export const chromiumPath = '/usr/bin/chromium';
export const skipWithoutChromium =
  !existsSync(chromiumPath) && process.env.CI !== 'true'
    ? `needs Debian's chromium at ${chromiumPath} (apt-get install chromium)`
    : false;

export type Role = 'admin' | 'marketer' | 'analyst';

/** The console users every browser test signs in as. */
export const consoleUsers: Readonly<Record<Role, { readonly email: string; readonly password: string }>> = {
  admin: { email: 'admin@example.test', password: 'admin-password-123' },
  marketer: { email: 'marketer@example.test', password: 'marketer-password-123' },
  analyst: { email: 'analyst@example.test', password: 'analyst-password-123' },
};

export const screenshotDir = join(repoRoot, 'test-results', 'console');

export interface ConsoleFixture {
  readonly url: string;
  readonly cible: CibleProcess;
  readonly browser: Browser;
  /** The demo data set loaded, when asked for. */
  readonly demo: { readonly data: DemoData; readonly report: DemoLoadReport } | undefined;
  /** A fresh browser context (its own cookies) at 1280×800, in English unless told. */
  newPage(options?: {
    readonly locale?: string;
    readonly width?: number;
    readonly height?: number;
  }): Promise<Page>;
  /** Signs in through the sign-in form and waits for the console's frame. */
  signIn(page: Page, role: Role, path?: string): Promise<void>;
  /** Saves test-results/console/<name>.png. */
  screenshot(page: Page, name: string): Promise<string>;
  /** An admin API call with the bootstrap token. */
  adminFetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface StartConsoleOptions {
  /** Loads the generated demo data set (`npm run demo`'s) of this many people, seed 1. */
  readonly demoPeople?: number;
  readonly seed?: (url: string) => Promise<void>;
}

export async function startConsole(options: StartConsoleOptions = {}): Promise<ConsoleFixture> {
  const dataDir = await testDataDir();
  // A build of its own, so a rebuild by another run cannot pull the files from under this one.
  const consoleDir = join(dataDir, 'console');
  await buildConsoleInto(consoleDir);
  const cible = await spawnCible(dataDir, { CIBLE_CONSOLE_DIR: consoleDir });
  const url = cible.url;
  const adminFetch = (path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
    });
  for (const [role, user] of Object.entries(consoleUsers)) {
    const response = await adminFetch('/api/users', {
      method: 'POST',
      body: JSON.stringify({ email: user.email, password: user.password, role }),
    });
    if (response.status !== 201) throw new Error(`Creating the ${role} user: ${await response.text()}`);
  }
  let demo: ConsoleFixture['demo'];
  if (options.demoPeople !== undefined) {
    const data = generateDemo({ seed: 1, people: options.demoPeople, now: Date.now() });
    demo = { data, report: await loadDemo(url, adminToken, data) };
  }
  await options.seed?.(url);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await mkdir(screenshotDir, { recursive: true });
  return {
    url,
    cible,
    browser,
    demo,
    adminFetch,
    async newPage(pageOptions = {}) {
      const context = await browser.newContext({
        baseURL: url,
        locale: pageOptions.locale ?? 'en-GB',
        viewport: { width: pageOptions.width ?? 1280, height: pageOptions.height ?? 800 },
      });
      return context.newPage();
    },
    async signIn(page, role, path = '/') {
      await page.goto(path);
      await page.getByLabel(/^(Email|E-mail)$/).fill(consoleUsers[role].email);
      await page.getByLabel(/^(Password|Mot de passe)$/).fill(consoleUsers[role].password);
      await page.getByRole('button', { name: /^(Sign in|Se connecter)$/ }).click();
      await page.getByTestId('who').waitFor();
    },
    async screenshot(page, name) {
      const path = join(screenshotDir, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await browser.close();
      await cible.stop();
      await removeTestDir(dataDir);
    },
  };
}
