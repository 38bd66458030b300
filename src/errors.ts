/**
 * The catalogue of errors a person can meet. Each code has one HTTP status and a hint that says
 * what to do. `docs/errors.md` lists the same codes; a test keeps the two in step.
 */
export const errorCatalogue = {
  CIBLE_ERR_CONFIG_INVALID: {
    status: 500,
    hint: 'Fix the flag or environment variable named in the message and start Cible again.',
  },
  CIBLE_ERR_TRACKING_INVALID_JSON: {
    status: 400,
    hint: 'Send a JSON object as the body (Content-Type application/json or text/plain, optionally gzip).',
  },
  CIBLE_ERR_TRACKING_INVALID_ENCODING: {
    status: 400,
    hint: 'Send the body as plain UTF-8 or with Content-Encoding gzip (or deflate), correctly compressed.',
  },
  CIBLE_ERR_TRACKING_BODY_TOO_LARGE: {
    status: 400,
    hint: 'Split the request: at most 500 KB per batch request and 32 KB per single call.',
  },
  CIBLE_ERR_TRACKING_EVENT_TOO_LARGE: {
    status: 400,
    hint: 'Keep each event under 32 KB of JSON: move large blobs out of properties and context.',
  },
  CIBLE_ERR_TRACKING_TOO_MANY_EVENTS: {
    status: 400,
    hint: 'Send at most 2,500 events per batch request; split larger batches.',
  },
  CIBLE_ERR_TRACKING_NOT_AN_OBJECT: {
    status: 400,
    hint: 'Each event must be a JSON object; a batch body must be {"batch": [ ... ]}.',
  },
  CIBLE_ERR_TRACKING_UNKNOWN_TYPE: {
    status: 400,
    hint: 'Set "type" to one of identify, track, page, screen, group, alias.',
  },
  CIBLE_ERR_TRACKING_MISSING_IDENTITY: {
    status: 400,
    hint: 'Set "userId" or "anonymousId" (a non-empty string) on every event.',
  },
  CIBLE_ERR_TRACKING_MISSING_FIELD: {
    status: 400,
    hint: 'Add the required field named in the message (track needs "event", group "groupId", alias "previousId").',
  },
  CIBLE_ERR_TRACKING_INVALID_FIELD: {
    status: 400,
    hint: 'Give the field named in the message the type the Segment spec expects.',
  },
  CIBLE_ERR_TRACKING_MISSING_WRITE_KEY: {
    status: 401,
    hint: 'Authenticate with HTTP Basic (write key as user, empty password) or a "writeKey" field in the body.',
  },
  CIBLE_ERR_TRACKING_UNKNOWN_WRITE_KEY: {
    status: 401,
    hint: 'Use the current write key of an existing source (GET /api/sources, or `cible sources create <name>`); a rotated or revoked key no longer works.',
  },
  CIBLE_ERR_INGEST_OVERLOADED: {
    status: 429,
    hint: 'Cible is writing as fast as it can: retry after the number of seconds in Retry-After.',
  },
  CIBLE_ERR_STORE_UNAVAILABLE: {
    status: 503,
    hint: 'The store could not commit; nothing from this request was kept. Retry; check disk space and the server log.',
  },
  CIBLE_ERR_STORE_BEHIND: {
    status: 503,
    hint: 'Acknowledged events are safe in the ingest log but the store has not loaded them yet. Retry in a few seconds; check the server log.',
  },
  CIBLE_ERR_AUTH_MISSING_TOKEN: {
    status: 401,
    hint: 'Send "Authorization: Bearer <token>" (an API token, or the admin token printed at first start and stored in <data dir>/admin-token), or sign in with POST /api/session.',
  },
  CIBLE_ERR_AUTH_INVALID_TOKEN: {
    status: 401,
    hint: 'The bearer token is not valid: check CIBLE_ADMIN_TOKEN, <data dir>/admin-token, or ask an admin for an API token (POST /api/tokens).',
  },
  CIBLE_ERR_AUTH_TOKEN_REVOKED: {
    status: 401,
    hint: 'This API token was revoked: ask an admin for a new one (POST /api/tokens).',
  },
  CIBLE_ERR_AUTH_WRITE_KEY: {
    status: 401,
    hint: 'Write keys only send events to /v1; use an API token or sign in for /api.',
  },
  CIBLE_ERR_AUTH_SESSION_EXPIRED: {
    status: 401,
    hint: 'Sign in again (POST /api/session with your email and password).',
  },
  CIBLE_ERR_AUTH_FORBIDDEN: {
    status: 403,
    hint: 'Your role does not allow this; ask an admin for a role that does (docs/access.md lists who may do what).',
  },
  CIBLE_ERR_AUTH_CSRF: {
    status: 403,
    hint: "Send the session's CSRF token (from POST or GET /api/session) in the X-CSRF-Token header of every request that changes something.",
  },
  CIBLE_ERR_AUTH_LOGIN_FAILED: {
    status: 401,
    hint: 'Check the email and password; after repeated failures the account is locked for a while.',
  },
  CIBLE_ERR_AUTH_LOCKED: {
    status: 429,
    hint: 'Too many failed sign-ins: wait the number of seconds in Retry-After, or ask an admin to reset the password.',
  },
  CIBLE_ERR_AUTH_RATE_LIMITED: {
    status: 429,
    hint: 'Too many sign-in attempts from this address: wait the number of seconds in Retry-After.',
  },
  CIBLE_ERR_USER_EMAIL_TAKEN: {
    status: 409,
    hint: 'A console user already has this email: update that user (PATCH /api/users/{id}) instead.',
  },
  CIBLE_ERR_USER_INVALID_PASSWORD: {
    status: 400,
    hint: 'Choose a password of 12 to 200 characters.',
  },
  CIBLE_ERR_USER_NOT_FOUND: {
    status: 404,
    hint: 'List the console users with GET /api/users.',
  },
  CIBLE_ERR_USER_LAST_ADMIN: {
    status: 409,
    hint: 'Make another user an admin first: an active admin user must remain.',
  },
  CIBLE_ERR_TOKEN_NOT_FOUND: {
    status: 404,
    hint: 'List the API tokens with GET /api/tokens.',
  },
  CIBLE_ERR_SOURCE_NOT_FOUND: {
    status: 404,
    hint: 'List the sources with GET /api/sources.',
  },
  CIBLE_ERR_API_INVALID_REQUEST: {
    status: 400,
    hint: 'Fix the parameter named in the message; /api/openapi.json describes every request.',
  },
  CIBLE_ERR_API_NOT_FOUND: {
    status: 404,
    hint: 'Check the path and the id; /api/openapi.json lists every route.',
  },
  CIBLE_ERR_PROFILES_INVALID_SEARCH: {
    status: 400,
    hint: 'Search profiles with q=<type>:<prefix> (q=email:jane) or q=<prefix>, and/or trait.<name>=<value> (end with * for a prefix).',
  },
  CIBLE_ERR_CONSENT_UNKNOWN_PURPOSE: {
    status: 400,
    hint: 'Use one of the purposes the message lists, or add your own to the rules file under consent.purposes (docs/consent.md).',
  },
  CIBLE_ERR_CONSENT_INVALID: {
    status: 400,
    hint: 'Send {"purposes": {"email": "granted", "sms": "denied"}}; doubleOptIn only with email granted; at as an ISO 8601 time, not in the future (docs/consent.md).',
  },
  CIBLE_ERR_QUARANTINE_NOT_FOUND: {
    status: 404,
    hint: 'List quarantined records with GET /api/quarantine and use one of their ids.',
  },
  CIBLE_ERR_QUARANTINE_ALREADY_REPLAYED: {
    status: 409,
    hint: 'This record was already replayed into the store; nothing more to do.',
  },
  CIBLE_ERR_QUARANTINE_STILL_INVALID: {
    status: 422,
    hint: 'The replayed event is still invalid: send a corrected event as {"event": {...}} in the body.',
  },
  CIBLE_ERR_IMPORT_INVALID_MAPPING: {
    status: 400,
    hint: 'Fix the mapping at the field named in the message; docs/imports.md describes every field of a mapping.',
  },
  CIBLE_ERR_IMPORT_NOT_FOUND: {
    status: 404,
    hint: 'List imports with GET /api/imports (or `cible imports list`) and use one of their ids.',
  },
  CIBLE_ERR_IMPORT_FILE_ALREADY_SENT: {
    status: 409,
    hint: 'An import takes one file: create a new import (POST /api/imports) for another file.',
  },
  CIBLE_ERR_IMPORT_FILE_TOO_LARGE: {
    status: 413,
    hint: 'Split the file (keeping its header) into several imports, or raise CIBLE_IMPORT_MAX_FILE_MB.',
  },
  CIBLE_ERR_IMPORT_FINISHED: {
    status: 409,
    hint: 'The import has already finished; nothing more to do. Create a new import to run a file again.',
  },
  CIBLE_ERR_IMPORT_FILE_UNREADABLE: {
    status: 422,
    hint: 'Check that the file matches the mapping (format, delimiter, header, columns), then import it again.',
  },
  CIBLE_ERR_IMPORT_ROW_MALFORMED: {
    status: 422,
    hint: 'Fix the line (quotes, number of columns, JSON) in the rejected rows file and import that file.',
  },
  CIBLE_ERR_IMPORT_ROW_MISSING_VALUE: {
    status: 422,
    hint: 'Fill the column named in the message (the mapping marks it required), then import the rejected rows again.',
  },
  CIBLE_ERR_IMPORT_ROW_INVALID_VALUE: {
    status: 422,
    hint: 'Write the cell as the mapping reads it (type, date format, decimal mark); import the rejected rows again.',
  },
  CIBLE_ERR_IMPORT_ROW_BAD_IDENTIFIER: {
    status: 422,
    hint: 'Correct the identifier (a valid e-mail, a phone with its country code) or empty it; import the rows again.',
  },
  CIBLE_ERR_IMPORT_ROW_NO_IDENTIFIER: {
    status: 422,
    hint: 'Give the row an identifier (e-mail, phone, customer or loyalty number); import the rejected rows again.',
  },
  CIBLE_ERR_IMPORT_ORDER_INCONSISTENT: {
    status: 422,
    hint: "Make each order's lines consecutive and agree on customer and time; import the rejected rows again.",
  },
  CIBLE_ERR_CLI_USAGE: {
    status: 400,
    hint: 'Run `cible help` for the commands and their options.',
  },
  CIBLE_ERR_CLI_SERVER_UNREACHABLE: {
    status: 503,
    hint: 'Start Cible with `npm start` (or `cible serve`), or pass --url to reach another instance.',
  },
  CIBLE_ERR_SEGMENT_SYNTAX: {
    status: 400,
    hint: 'Fix the rule at the line and column given; the message says what was expected there (docs/segments.md has the grammar).',
  },
  CIBLE_ERR_SEGMENT_INVALID_RULE: {
    status: 400,
    hint: 'Fix the rule tree at the path given (docs/segments.md describes every node), or send the rule as text.',
  },
  CIBLE_ERR_SEGMENT_UNKNOWN_REFERENCE: {
    status: 400,
    hint: 'Create the segment the rule names with `in segment` first, or fix the name (GET /api/segments lists them).',
  },
  CIBLE_ERR_SEGMENT_CYCLE: {
    status: 400,
    hint: 'A segment cannot contain itself, directly or through others: remove one of the `in segment` conditions named.',
  },
  CIBLE_ERR_SEGMENT_NAME_TAKEN: {
    status: 409,
    hint: 'Choose another name, or change the existing segment with PUT /api/segments/{id}.',
  },
  CIBLE_ERR_SEGMENT_NOT_FOUND: {
    status: 404,
    hint: 'Use the id of an existing segment (GET /api/segments lists them).',
  },
  CIBLE_ERR_SEGMENT_IN_USE: {
    status: 409,
    hint: 'Remove the `in segment` conditions that name it from the segments listed, then delete it.',
  },
  CIBLE_ERR_COMPUTED_TRAIT_NAME_TAKEN: {
    status: 409,
    hint: 'Choose another name, or change the existing computed trait with PUT /api/computed-traits/{id}.',
  },
  CIBLE_ERR_COMPUTED_TRAIT_NOT_FOUND: {
    status: 404,
    hint: 'Use the id of an existing computed trait (GET /api/computed-traits lists them).',
  },
  CIBLE_ERR_COMPUTED_TRAIT_IN_USE: {
    status: 409,
    hint: 'Remove the conditions on this trait from the segments listed, then delete it.',
  },
  CIBLE_ERR_INTERNAL: {
    status: 500,
    hint: 'This is a bug in Cible: the server log has the details.',
  },
} as const satisfies Record<string, { status: number; hint: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface CibleErrorOptions {
  /** Where the problem is: a field path (`batch[3].userId`), a line of a file, a setting. */
  readonly field?: string;
  readonly cause?: unknown;
}

export class CibleError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: CibleErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'CibleError';
    this.code = code;
    this.field = options.field;
  }

  get status(): number {
    return errorCatalogue[this.code].status;
  }

  get hint(): string {
    return errorCatalogue[this.code].hint;
  }

  /** The JSON body every API error answers with. */
  toJSON(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field === undefined ? {} : { field: this.field }),
        hint: this.hint,
      },
    };
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string; hint: string };
}

export function isCibleError(value: unknown): value is CibleError {
  return value instanceof CibleError;
}
