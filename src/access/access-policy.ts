/**
 * Who may call what: every route under /api, with the roles allowed and what the audit log records
 * when the call succeeds. This table is the only place access is decided; a route missing from it
 * refuses to start (see `policyFor`).
 */
export const roles = ['admin', 'marketer', 'analyst'] as const;
export type Role = (typeof roles)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (roles as readonly string[]).includes(value);
}

/** What a role may see of a person: `personal` shows identifiers, `pseudonymised` keyed hashes. */
export function sightOf(role: Role): 'personal' | 'pseudonymised' {
  return role === 'analyst' ? 'pseudonymised' : 'personal';
}

export interface RoutePolicy {
  /** Roles allowed; `public` routes need no one (signing in). */
  readonly allow: readonly Role[] | 'public';
  /** Recorded in the audit log when the call succeeds; the target is the route's `:id`. */
  readonly audit?: string;
  /**
   * Query parameters that look people up by personal data (`trait.*`: by a personal trait); roles
   * that see pseudonyms may not use them, or a search would tell them who is in the base.
   */
  readonly personalQuery?: readonly string[];
}

const everyone: readonly Role[] = roles;
const staff: readonly Role[] = ['admin', 'marketer'];
const admin: readonly Role[] = ['admin'];

export const routePolicies: Readonly<Record<string, RoutePolicy>> = {
  // Signing in and out, and who am I.
  'POST /api/session': { allow: 'public' },
  'GET /api/openapi.json': { allow: 'public' },
  'GET /api/session': { allow: everyone },
  'DELETE /api/session': { allow: everyone, audit: 'session.logout' },

  // Console users and API tokens.
  'GET /api/users': { allow: admin },
  'POST /api/users': { allow: admin, audit: 'user.create' },
  'PATCH /api/users/:id': { allow: admin, audit: 'user.update' },
  'DELETE /api/users/:id': { allow: admin, audit: 'user.delete' },
  'GET /api/tokens': { allow: admin },
  'POST /api/tokens': { allow: admin, audit: 'token.create' },
  'DELETE /api/tokens/:id': { allow: admin, audit: 'token.revoke' },
  'GET /api/audit': { allow: admin },

  // Sources and their write keys (secrets that let anyone write events).
  'GET /api/sources': { allow: staff },
  'POST /api/sources': { allow: admin, audit: 'source.create' },
  'POST /api/sources/:id/write-key': { allow: admin, audit: 'source.rotate_write_key' },
  'DELETE /api/sources/:id/write-key': { allow: admin, audit: 'source.revoke_write_key' },

  // Raw events and rejected records hold personal data as sent.
  'GET /api/events': { allow: staff },
  'GET /api/stats': { allow: everyone },
  'GET /api/quarantine': { allow: staff },
  'GET /api/quarantine/:id': { allow: staff },
  'POST /api/quarantine/:id/replay': { allow: staff, audit: 'quarantine.replay' },
  'POST /api/quarantine/replay': { allow: staff, audit: 'quarantine.replay' },
  'GET /api/quality': { allow: everyone },
  'GET /api/overview': { allow: everyone },
  'GET /api/overview/live': { allow: everyone },

  // Profiles: analysts see them pseudonymised, and may not search by identifier.
  'GET /api/profiles': {
    allow: everyone,
    audit: 'profile.search',
    personalQuery: ['identifier', 'q', 'trait.*'],
  },
  'GET /api/profiles/:id': { allow: everyone, audit: 'profile.view' },
  'GET /api/profiles/:id/events': { allow: staff, audit: 'profile.events' },
  'POST /api/profiles/:id/unmerge': { allow: staff, audit: 'profile.unmerge' },
  'PUT /api/profiles/:id/consent': { allow: staff, audit: 'consent.change' },
  'GET /api/profiles/:id/export': { allow: staff, audit: 'profile.export' },
  'PATCH /api/profiles/:id/traits': { allow: staff, audit: 'profile.rectify' },
  'DELETE /api/profiles/:id': { allow: admin, audit: 'profile.erase' },

  // Erasure's physical purge, and its state.
  'GET /api/privacy': { allow: admin },
  'POST /api/privacy/purge': { allow: admin, audit: 'privacy.purge' },
  'POST /api/privacy/retention': { allow: admin, audit: 'privacy.retention' },
  'POST /api/profiles/merge': { allow: staff, audit: 'profile.merge' },

  // Segments and computed traits: analysts read and preview, marketers also change them.
  'GET /api/segments': { allow: everyone },
  'POST /api/segments': { allow: staff, audit: 'segment.create' },
  'POST /api/segments/preview': { allow: everyone },
  'POST /api/segments/refresh': { allow: staff },
  'GET /api/segments/:id': { allow: everyone },
  'PUT /api/segments/:id': { allow: staff, audit: 'segment.update' },
  'DELETE /api/segments/:id': { allow: staff, audit: 'segment.delete' },
  'GET /api/segments/:id/members': { allow: everyone },
  'GET /api/segments/:id/changes': { allow: everyone },
  'GET /api/segments/:id/sizes': { allow: everyone },
  'GET /api/segments/:id/overlap/:other': { allow: everyone },
  'GET /api/segments/:id/audience': { allow: staff, audit: 'segment.audience_export' },
  'GET /api/exports/events': { allow: everyone, audit: 'events.export' },
  'GET /api/computed-traits': { allow: everyone },
  'POST /api/computed-traits': { allow: staff, audit: 'computed_trait.create' },
  'GET /api/computed-traits/:id': { allow: everyone },
  'PUT /api/computed-traits/:id': { allow: staff, audit: 'computed_trait.update' },
  'DELETE /api/computed-traits/:id': { allow: staff, audit: 'computed_trait.delete' },
  'GET /api/computed-traits/:id/values': { allow: everyone },

  // Analysis works on aggregates; member lists come pseudonymised to analysts.
  'GET /api/analysis/rfm': { allow: everyone },
  'GET /api/analysis/rfm/members': { allow: everyone },
  'GET /api/analysis/segments/:id/distinguishing': { allow: everyone },

  // Imports bring personal data in, and their rejected rows show it.
  'GET /api/imports': { allow: staff },
  'POST /api/imports': { allow: staff, audit: 'import.start' },
  'POST /api/imports/preview': { allow: staff },
  'PUT /api/imports/:id/file': { allow: staff },
  'GET /api/imports/:id': { allow: staff },
  'POST /api/imports/:id/cancel': { allow: staff, audit: 'import.cancel' },
  'GET /api/imports/:id/rejected': { allow: staff },
  'GET /api/imports/:id/rejected/file': { allow: staff, audit: 'import.rejected_download' },
};

/** The policy of a route, by method and URL pattern (`GET /api/profiles/:id`). */
export function policyFor(method: string, url: string): RoutePolicy | undefined {
  return routePolicies[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}
