import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run build:web` puts the console's production build. */
export const consoleDist = join(import.meta.dirname, '../../web/dist');

export interface ConsoleOptions {
  /** The production build of the console (web/dist). */
  readonly root: string;
}

// Scripts and styles come only from Cible itself; the charts set inline styles on their canvas.
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-cache')
    .header('content-security-policy', contentSecurityPolicy)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin');
}

/** Whether a console build is there to serve. */
export function consoleIsBuilt(root: string): boolean {
  return existsSync(join(root, 'index.html'));
}

/**
 * Serves the console at `/`: hashed assets cached for good, and index.html for every other page
 * address, so a reload on /profiles/123 opens that screen. /api and /v1 keep their JSON 404s.
 */
export async function consoleApp(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  await app.register(fastifyStatic, {
    root: options.root,
    wildcard: false,
    index: false,
    setHeaders(reply, path) {
      if (path.includes(`${join(options.root, 'assets')}`)) {
        reply.header('cache-control', 'public, max-age=31536000, immutable');
      } else {
        reply.header('cache-control', 'no-cache');
      }
    },
  });
  const page = (_request: unknown, reply: FastifyReply) => pageHeaders(reply).sendFile('index.html');
  app.get('/', { schema: { hide: true } }, page);
  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (path.startsWith('/api/') || path.startsWith('/v1/') || path.startsWith('/assets/')) {
      return reply.callNotFound();
    }
    return page(request, reply);
  });
}
