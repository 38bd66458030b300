import { CibleError, type ErrorBody } from '../errors.ts';

export interface SourceInfo {
  readonly id: string;
  readonly name: string;
  readonly writeKey: string;
}

/** What the CLI asks of a running Cible, through its admin API. */
export interface ApiClient {
  createSource(name: string): Promise<SourceInfo>;
  listSources(): Promise<SourceInfo[]>;
  findOrCreateSource(name: string): Promise<SourceInfo>;
  listImports(): Promise<{ imports: ImportSummary[] }>;
  listSegments(): Promise<SegmentSummary[]>;
  /** Members at the end of each of the last `days` days, oldest first. */
  segmentSizes(id: string, days: number): Promise<{ day: string; size: number }[]>;
  previewSegment(rule: string): Promise<{ size: number; sample: { id: number }[] }>;
  createUser(input: { email: string; password: string; role: string }): Promise<UserInfo>;
  listUsers(): Promise<UserInfo[]>;
  createToken(input: {
    name: string;
    role: string;
  }): Promise<{ id: string; name: string; role: string; token: string }>;
  listTokens(): Promise<
    { id: string; name: string; role: string; lastUsedAt: string | null; revokedAt: string | null }[]
  >;
  /** The admin token the client authenticates with. */
  readonly token: string;
}

export interface UserInfo {
  readonly id: string;
  readonly email: string;
  readonly role: string;
  readonly disabledAt: string | null;
  readonly lockedUntil: string | null;
}

export interface ImportSummary {
  readonly id: string;
  readonly status: string;
  readonly createdAt: string;
  readonly fileName: string;
  readonly rows: { readonly read: number; readonly rejected: number };
  readonly events: { readonly accepted: number; readonly duplicates: number };
}

export interface SegmentSummary {
  readonly id: string;
  readonly name: string;
  readonly text: string;
  readonly size: number;
}

export function createApiClient(serverUrl: string, token: string): ApiClient {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${serverUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new CibleError('CIBLE_ERR_CLI_SERVER_UNREACHABLE', `No Cible answers at ${serverUrl}.`, {
        cause: error,
      });
    }
    const json = await response.json();
    if (!response.ok) throw errorFrom(json, response.status);
    return json as T;
  }

  const client: ApiClient = {
    createSource: (name) => call<SourceInfo>('POST', '/api/sources', { name }),
    createUser: (input) => call<UserInfo>('POST', '/api/users', input),
    listUsers: async () => (await call<{ users: UserInfo[] }>('GET', '/api/users')).users,
    createToken: (input) => call('POST', '/api/tokens', input),
    listTokens: async () =>
      (await call<{ tokens: Awaited<ReturnType<ApiClient['listTokens']>> }>('GET', '/api/tokens')).tokens,
    listSources: async () => (await call<{ sources: SourceInfo[] }>('GET', '/api/sources')).sources,
    async findOrCreateSource(name) {
      const existing = (await client.listSources()).find((source) => source.name === name);
      return existing ?? (await client.createSource(name));
    },
    listImports: () => call('GET', '/api/imports?limit=100'),
    listSegments: async () => (await call<{ segments: SegmentSummary[] }>('GET', '/api/segments')).segments,
    async segmentSizes(id, days) {
      const from = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
      const path = `/api/segments/${encodeURIComponent(id)}/sizes?from=${from}`;
      return (await call<{ sizes: { day: string; size: number }[] }>('GET', path)).sizes;
    },
    previewSegment: (rule) => call('POST', '/api/segments/preview', { rule }),
    token,
  };
  return client;
}

export function errorFrom(json: unknown, status: number): CibleError {
  const error = (json as Partial<ErrorBody>).error;
  if (error !== undefined && typeof error.code === 'string') {
    return new CibleError(error.code, error.message, error.field === undefined ? {} : { field: error.field });
  }
  return new CibleError('CIBLE_ERR_INTERNAL', `Cible answered ${status}.`);
}
