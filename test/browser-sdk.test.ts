import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type * as AnalyticsNext from '@segment/analytics-next';
import { chromium, type Browser } from 'playwright-core';
import type { EventOutput } from '../src/domain/events.ts';
import { repoRoot, startTestCible, type TestCible } from './helpers.ts';

// The official browser SDK (@segment/analytics-next), unchanged, in headless Chromium, on a page
// served from another origin than Cible: settings from Cible, text/plain posts, CORS.
const executablePath = '/usr/bin/chromium';
const skip =
  !existsSync(executablePath) && process.env.CI !== 'true'
    ? `needs Debian's chromium at ${executablePath} (apt-get install chromium)`
    : false;

let cible: TestCible;
let site: Server;
let siteUrl: string;
let browser: Browser | undefined;

before(async () => {
  if (skip !== false) return;
  cible = await startTestCible();
  const bundleDir = join(repoRoot, 'node_modules/@segment/analytics-next/dist/umd');
  site = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    if (path.startsWith('/ajs/')) {
      readFile(join(bundleDir, path.slice('/ajs/'.length).replaceAll('..', ''))).then(
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
  browser = await chromium.launch({
    executablePath,
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
});

after(async () => {
  if (skip !== false) return;
  await browser?.close();
  await new Promise((resolve) => site.close(resolve));
  await cible.close();
});

test('@segment/analytics-next in Chromium sends identify, track and page to Cible', { skip }, async () => {
  const writeKey = await cible.createSource('browser');
  const page = await browser!.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${siteUrl}/products/42?utm_source=newsletter&utm_campaign=winter`);
  await page.addScriptTag({ url: `${siteUrl}/ajs/index.js` });
  await page.evaluate(
    async ({ writeKey, cibleUrl }) => {
      const { AnalyticsBrowser } = (globalThis as unknown as { AnalyticsNext: typeof AnalyticsNext })
        .AnalyticsNext;
      const [analytics] = await AnalyticsBrowser.load({ writeKey, cdnURL: cibleUrl });
      await analytics.page('Product', { sku: 'SKU-42' });
      await analytics.identify('shopper-1', { email: 'shopper@example.com' });
      await analytics.track('Product Added', { sku: 'SKU-42', price: 19.9 });
    },
    { writeKey, cibleUrl: cible.url },
  );

  let events: EventOutput[] = [];
  for (let attempt = 0; attempt < 50 && events.length < 3; attempt++) {
    events = (await cible.admin<{ events: EventOutput[] }>('/api/events?limit=10')).events;
    if (events.length < 3) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(pageErrors, []);
  const byType = new Map(events.map((event) => [event.type, event]));
  assert.deepEqual([...byType.keys()].sort(), ['identify', 'page', 'track']);

  const track = byType.get('track')!;
  assert.equal(track.event, 'Product Added');
  assert.equal(track.userId, 'shopper-1');
  assert.deepEqual(track.properties, { sku: 'SKU-42', price: 19.9 });
  assert.equal((track.context?.library as { name: string }).name, 'analytics.js');
  assert.equal((track.context?.page as { path: string }).path, '/products/42');
  assert.deepEqual(track.context?.campaign, { source: 'newsletter', name: 'winter' });
  assert.match(String(track.context?.userAgent), /Chrome/);
  assert.equal(track.context?.ip, '127.0.0.1');

  const pageView = byType.get('page')!;
  assert.equal(pageView.name, 'Product');
  assert.equal(pageView.properties?.sku, 'SKU-42');
  const identify = byType.get('identify')!;
  assert.deepEqual(identify.traits, { email: 'shopper@example.com' });
  // The browser keeps one anonymousId for the visitor across calls.
  assert.equal(identify.anonymousId, track.anonymousId);
  assert.equal(pageView.anonymousId, track.anonymousId);
});
