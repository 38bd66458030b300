/** The console's one way to the admin API: the session cookie, the CSRF token, errors as values a screen can show. */

/** The `error` object of Cible's error answers: a code from docs/errors.md, a message, the field, a hint. */
export interface ApiErrorBody {
  readonly code?: string;
  readonly message?: string;
  readonly field?: string;
  readonly hint?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message ?? `The server answered ${status}.`);
    this.name = 'ApiError';
  }
  get code(): string | undefined {
    return this.body.code;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the session is gone (expired, signed out elsewhere): the console goes back to sign-in. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined | null>>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: HeadersInit = {},
): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...headers },
  };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken !== null) {
    (init.headers as Record<string, string>)['x-csrf-token'] = csrfToken;
  }
  if (body !== undefined) {
    if (body instanceof Blob || typeof body === 'string') {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
  }
  const response = await fetch(path, init);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = { message: text };
  }
  if (!response.ok) {
    if (response.status === 401 && path !== '/api/session') onUnauthorized();
    const body =
      (parsed as { error?: ApiErrorBody } | undefined)?.error ?? (parsed as ApiErrorBody | undefined);
    throw new ApiError(response.status, body ?? {});
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>('GET', withQuery(path, query)),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body?: unknown, headers?: HeadersInit) => request<T>('PUT', path, body, headers),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, body),
  delete: <T>(path: string) => request<T>('DELETE', path),
};

/** What to tell a person about a failed call: the API's message and hint, or the error's text. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return [error.message, error.body.hint].filter(Boolean).join(' ');
  return error instanceof Error ? error.message : String(error);
}
