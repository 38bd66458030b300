/**
 * Ready-to-paste code that sends events to this Cible with a source's write key: the official
 * Segment SDKs pointed at Cible's address, and a plain HTTP call.
 */
export interface Snippets {
  readonly browser: string;
  readonly node: string;
  readonly curl: string;
}

export function snippetsFor(writeKey: string, origin: string): Snippets {
  const url = new URL(origin);
  const base = url.origin;
  const protocol = url.protocol.replace(/:$/, '');
  const key = JSON.stringify(writeKey).slice(1, -1);
  const browser = [
    "import { AnalyticsBrowser } from '@segment/analytics-next';",
    '',
    'export const analytics = AnalyticsBrowser.load(',
    `  { writeKey: '${key}', cdnURL: '${base}' },`,
    `  { integrations: { 'Segment.io': { apiHost: '${url.host}/v1', protocol: '${protocol}' } } },`,
    ');',
    '',
    'analytics.page();',
    "analytics.identify('user-42', { email: 'jane@example.com' });",
    "analytics.track('Order Completed', { order_id: 'A-1001', revenue: 30 });",
  ].join('\n');
  const node = [
    "import { Analytics } from '@segment/analytics-node';",
    '',
    `const analytics = new Analytics({ writeKey: '${key}', host: '${base}' });`,
    '',
    "analytics.identify({ userId: 'user-42', traits: { email: 'jane@example.com' } });",
    'analytics.track({',
    "  userId: 'user-42',",
    "  event: 'Order Completed',",
    "  properties: { order_id: 'A-1001', revenue: 30 },",
    '});',
    '',
    '// Before the process exits: sends what is queued.',
    'await analytics.closeAndFlush();',
  ].join('\n');
  const curl = [
    `curl -u '${key}:' ${base}/v1/track \\`,
    "  -H 'content-type: application/json' \\",
    `  -d '{"userId": "user-42", "event": "Order Completed", "properties": {"revenue": 30}}'`,
  ].join('\n');
  return { browser, node, curl };
}
