import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { api } from '../../api.ts';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { formatDateTime } from '../../components/format.ts';
import { Pager, useCursorPages } from '../../components/pager.tsx';
import { Page, Section } from '../../components/page.tsx';
import { QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { auditActions, bootstrapId, refusals, useTokens, useUsers, type AuditEntry } from './admin-api.ts';
import { Breakable, Field, Forbidden, RoleBadge } from './admin-parts.tsx';
import './admin.css';

const pageSize = 50;
const filterNames = ['action', 'actor', 'from', 'to'] as const;
type FilterName = (typeof filterNames)[number];

/** A date input's day (YYYY-MM-DD) as the instant its local midnight is, ISO. */
function startOfDay(day: string, plusDays = 0): string | undefined {
  const [year, month, date] = day.split('-').map(Number);
  if (year === undefined || month === undefined || date === undefined || Number.isNaN(year)) return undefined;
  const local = new Date(year, month - 1, date + plusDays);
  return Number.isNaN(local.getTime()) ? undefined : local.toISOString();
}

export function AuditScreen() {
  const { t } = useTranslation('admin');
  const { permissions } = useSession();
  if (!permissions.admin) return <Forbidden title={t('audit.title')} />;
  return <AuditLog />;
}

function AuditLog() {
  const { t } = useTranslation('admin');
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(filterNames.map((name) => [name, params.get(name) ?? ''])) as Record<
    FilterName,
    string
  >;
  const pages = useCursorPages();
  const cursor = pages.cursor;
  const from = filters.from === '' ? undefined : startOfDay(filters.from);
  const to = filters.to === '' ? undefined : startOfDay(filters.to, 1);
  const badRange = from !== undefined && to !== undefined && to <= from;
  const query = useQuery({
    queryKey: ['admin', 'audit', filters, cursor ?? null],
    queryFn: () =>
      api.get<{ entries: AuditEntry[]; nextCursor: number | null }>('/api/audit', {
        action: filters.action,
        actorId: filters.actor,
        from,
        to,
        limit: pageSize,
        cursor,
      }),
    enabled: !badRange,
    placeholderData: keepPreviousData,
  });

  function filter(name: FilterName, value: string) {
    const next = new URLSearchParams(params);
    if (value === '') next.delete(name);
    else next.set(name, value);
    setParams(next, { replace: true });
    pages.reset();
  }

  // Users and tokens by name rather than by id, where they still exist.
  const users = useUsers();
  const tokens = useTokens();
  const names = new Map<string, string>([
    ...(users.data ?? []).map((user) => [user.id, user.email] as const),
    ...(tokens.data ?? []).map((token) => [token.id, token.name] as const),
  ]);

  const columns: Column<AuditEntry>[] = [
    {
      key: 'when',
      header: t('audit.when'),
      cell: (entry) => <time dateTime={entry.at}>{formatDateTime(entry.at)}</time>,
    },
    { key: 'who', header: t('audit.who'), cell: (entry) => <Actor entry={entry} /> },
    { key: 'action', header: t('audit.what'), cell: (entry) => <code>{entry.action}</code> },
    {
      key: 'target',
      header: t('audit.target'),
      cell: (entry) =>
        entry.target === null ? (
          <span className="muted">{t('none', { ns: 'common' })}</span>
        ) : (
          <Target type={entry.target.type} id={entry.target.id} names={names} />
        ),
    },
    {
      key: 'result',
      header: t('audit.result'),
      cell: (entry) =>
        refusals.has(entry.action) ? (
          <span className="badge danger">{t('audit.refused')}</span>
        ) : (
          <span className="badge ok">{t('audit.done')}</span>
        ),
    },
    { key: 'address', header: t('audit.address'), cell: (entry) => <code>{entry.ip ?? '—'}</code> },
    {
      key: 'detail',
      header: t('audit.detail'),
      cell: (entry) =>
        entry.detail === null ? null : <code className="admin-detail">{detailText(entry.detail)}</code>,
    },
  ];

  return (
    <Page title={t('audit.title')} subtitle={t('audit.subtitle')}>
      <Section title={t('audit.filters')}>
        <form className="admin-form" onSubmit={(event) => event.preventDefault()}>
          <Field label={t('audit.action')}>
            {(id) => (
              <select
                id={id}
                value={filters.action}
                onChange={(event) => filter('action', event.target.value)}
              >
                <option value="">{t('audit.anyAction')}</option>
                {auditActions.map((action) => (
                  <option key={action} value={action}>
                    {action}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t('audit.actor')}>
            {(id) => (
              <ActorSelect id={id} value={filters.actor} onChange={(value) => filter('actor', value)} />
            )}
          </Field>
          <label>
            {t('audit.from')}
            <input
              type="date"
              value={filters.from}
              onChange={(event) => filter('from', event.target.value)}
            />
          </label>
          <label>
            {t('audit.to')}
            <input type="date" value={filters.to} onChange={(event) => filter('to', event.target.value)} />
          </label>
          {filterNames.some((name) => filters[name] !== '') && (
            <button
              type="button"
              onClick={() => {
                setParams(new URLSearchParams(), { replace: true });
                pages.reset();
              }}
            >
              {t('audit.clear')}
            </button>
          )}
        </form>
        {badRange && (
          <p role="alert" className="error-text admin-help">
            {t('audit.badRange')}
          </p>
        )}
      </Section>
      <Section title={t('audit.entries')}>
        {!badRange && (
          <QueryView
            query={query}
            isEmpty={(data) => data.entries.length === 0 && !pages.hasPrevious}
            empty={t('audit.empty')}
          >
            {(data) => (
              <div className="stack">
                <DataTable
                  caption={t('audit.entries')}
                  columns={columns}
                  rows={data.entries}
                  rowKey={(entry) => String(entry.seq)}
                />
                <Pager label={t('audit.entries')} pages={pages} nextCursor={data.nextCursor} />
              </div>
            )}
          </QueryView>
        )}
      </Section>
    </Page>
  );
}

/** A flat detail as `key: value` pairs; anything deeper as JSON. */
function detailText(detail: unknown): string {
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return JSON.stringify(detail);
  return Object.entries(detail)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}

function Target({
  type,
  id,
  names,
}: {
  readonly type: string;
  readonly id: string | null;
  readonly names: ReadonlyMap<string, string>;
}) {
  const name = id === null ? undefined : names.get(id);
  return (
    <span className="admin-target" title={id ?? undefined}>
      <span className="muted">{type}</span>{' '}
      {name !== undefined ? (
        <Breakable text={name} />
      ) : (
        <code>{id === null ? '' : <Breakable text={id} />}</code>
      )}
    </span>
  );
}

function Actor({ entry }: { readonly entry: AuditEntry }) {
  const { t } = useTranslation('admin');
  const { actor } = entry;
  const kind =
    actor.type === 'user' || actor.type === 'token' || actor.type === 'bootstrap' ? actor.type : 'anonymous';
  return (
    <span className="admin-actor">
      <span>
        <Breakable text={actor.name ?? t('audit.anonymous')} />
      </span>
      <span className="admin-actor-kind">
        {/* The admin token is named after its kind already. */}
        {kind !== 'bootstrap' && <span className="muted">{t(`actor.${kind}`)}</span>}
        {actor.role !== null && <RoleBadge role={actor.role} />}
      </span>
    </span>
  );
}

/** Everyone who can act: the users, the API tokens and the admin token, by name. */
function ActorSelect({
  id,
  value,
  onChange,
}: {
  readonly id: string;
  readonly value: string;
  readonly onChange: (value: string) => void;
}) {
  const { t } = useTranslation('admin');
  const users = useUsers();
  const tokens = useTokens();
  const known = new Set<string>([
    bootstrapId,
    ...(users.data ?? []).map((user) => user.id),
    ...(tokens.data ?? []).map((token) => token.id),
  ]);
  return (
    <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
      <option value="">{t('audit.anyActor')}</option>
      <optgroup label={t('users.title')}>
        {(users.data ?? []).map((user) => (
          <option key={user.id} value={user.id}>
            {user.email}
          </option>
        ))}
        {(tokens.data ?? []).map((token) => (
          <option key={token.id} value={token.id}>
            {`${token.name} (${t('actor.token')})`}
          </option>
        ))}
        <option value={bootstrapId}>{t('actor.bootstrap')}</option>
      </optgroup>
      {/* A deleted user's id from the address still shows as chosen. */}
      {value !== '' && users.data !== undefined && tokens.data !== undefined && !known.has(value) && (
        <option value={value}>{value}</option>
      )}
    </select>
  );
}
