import type { FastifyServerOptions } from 'fastify';

/**
 * Logs hold no personal data: emails, phone numbers, IP addresses and credentials are masked in
 * every request line and error message, whatever route or library wrote them.
 */
const patterns: readonly [RegExp, string][] = [
  // Credentials first: a token may contain what looks like an email.
  [/\b(Bearer|Basic)\s+[\w.~+/=-]+/gi, '$1 [token]'],
  [/\bcible_[\w-]{20,}/g, '[token]'],
  [/[\w.!#$%&'*+/=?^`{|}~-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+/g, '[email]'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '[ip]'],
  // IPv6, written in full or with "::" (a time such as 10:00:00 is neither).
  [
    /\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|\b(?:[0-9a-f]{1,4}:)+:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?/gi,
    '[ip]',
  ],
  // Phone numbers: a + or a run of 8 or more digits, spaces, dots or dashes.
  [/(?:\+|%2B)\d[\d .()-]{6,}\d|\b\d(?:[ .-]?\d){7,}\b/g, '[phone]'],
];

export function redactText(text: string): string {
  let redacted = text;
  for (const [pattern, replacement] of patterns) redacted = redacted.replace(pattern, replacement);
  return redacted;
}

interface LoggedRequest {
  readonly method: string;
  readonly url: string;
  readonly ip?: string;
}

/** The logger options of the server: the level, and serializers that redact. */
export function redactingLogger(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-csrf-token"]',
        'res.headers["set-cookie"]',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (request: LoggedRequest) => ({ method: request.method, url: redactText(request.url) }),
      err: (error: Error) => ({
        type: error.name,
        message: redactText(error.message),
        stack: redactText(error.stack ?? ''),
        ...('code' in error ? { code: (error as { code: unknown }).code } : {}),
      }),
    },
  };
}
