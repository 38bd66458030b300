import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { formatDate, formatDateTime } from '../../components/format.ts';
import { Section } from '../../components/page.tsx';
import { EmptyState } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import {
  traitText,
  type ConsentChange,
  type ConsentPurpose,
  type Merge,
  type Profile,
  type ProfileIdentifier,
} from './profile-types.ts';

type T = ReturnType<typeof useTranslation<'profiles'>>['t'];

/** Shown where identifiers appear to a role that sees pseudonyms. */
function PseudonymNote() {
  const { t } = useTranslation('profiles');
  const { permissions } = useSession();
  if (permissions.personalData) return null;
  return <p className="muted profiles-pseudonymised">{t('pseudonymised', { ns: 'common' })}</p>;
}

export function IdentifiersSection({
  profile,
  sourceName,
}: {
  readonly profile: Profile;
  readonly sourceName: (id: string) => string;
}) {
  const { t } = useTranslation('profiles');
  const columns: Column<ProfileIdentifier>[] = [
    { key: 'type', header: t('columnType'), cell: (row) => <span className="badge">{row.type}</span> },
    {
      key: 'value',
      header: t('columnValue'),
      cell: (row) => <code className="profiles-break">{row.value}</code>,
    },
    { key: 'firstSeen', header: t('columnFirstSeen'), cell: (row) => formatDateTime(row.firstSeen) },
    { key: 'lastSeen', header: t('columnLastSeenAt'), cell: (row) => formatDateTime(row.lastSeen) },
    { key: 'source', header: t('columnSource'), cell: (row) => sourceName(row.sourceId) },
  ];
  return (
    <Section
      title={t('identifiersTitle')}
      actions={<span className="muted">{profile.identifiers.length}</span>}
    >
      <PseudonymNote />
      {profile.identifiers.length === 0 ? (
        <EmptyState>{t('identifiersEmpty')}</EmptyState>
      ) : (
        <DataTable
          caption={t('identifiersTitle')}
          columns={columns}
          rows={profile.identifiers}
          rowKey={(row) => `${row.type}:${row.value}`}
        />
      )}
    </Section>
  );
}

interface TraitRow {
  readonly name: string;
  readonly value: unknown;
  readonly sourceId: string;
  readonly at: string | null;
}

export function TraitsSection({
  profile,
  sourceName,
}: {
  readonly profile: Profile;
  readonly sourceName: (id: string) => string;
}) {
  const { t } = useTranslation('profiles');
  const rows: TraitRow[] = Object.entries(profile.traits)
    .map(([name, trait]) => ({ name, ...trait }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const columns: Column<TraitRow>[] = [
    { key: 'name', header: t('columnTrait'), cell: (row) => <strong>{row.name}</strong> },
    {
      key: 'value',
      header: t('columnValue'),
      cell: (row) =>
        // firstSource, lastSource…: a source id, shown by its name.
        /source$/i.test(row.name) && typeof row.value === 'string' ? (
          sourceName(row.value)
        ) : (
          <TraitValue value={row.value} />
        ),
    },
    { key: 'source', header: t('columnSource'), cell: (row) => sourceName(row.sourceId) },
    { key: 'at', header: t('columnUpdated'), cell: (row) => formatDateTime(row.at) },
  ];
  return (
    <Section title={t('traitsTitle')} actions={<span className="muted">{rows.length}</span>}>
      {rows.length === 0 ? (
        <EmptyState>{t('traitsEmpty')}</EmptyState>
      ) : (
        <DataTable caption={t('traitsTitle')} columns={columns} rows={rows} rowKey={(row) => row.name} />
      )}
    </Section>
  );
}

const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function TraitValue({ value }: { readonly value: unknown }) {
  const { t } = useTranslation('profiles');
  if (value === null || value === undefined)
    return <span className="muted">{t('none', { ns: 'common' })}</span>;
  if (typeof value === 'boolean')
    return <>{value ? t('yes', { ns: 'common' }) : t('no', { ns: 'common' })}</>;
  if (typeof value === 'object') return <code className="profiles-break">{traitText(value)}</code>;
  if (typeof value === 'string' && isoTime.test(value))
    return <time dateTime={value}>{formatDateTime(value)}</time>;
  return <span className="profiles-break">{traitText(value)}</span>;
}

const knownPurposes = [
  'analytics',
  'personalization',
  'email',
  'sms',
  'push',
  'postal',
  'phone',
  'advertising',
] as const;

export function purposeLabel(purpose: string, t: T): string {
  return (knownPurposes as readonly string[]).includes(purpose)
    ? t(`purpose.${purpose as (typeof knownPurposes)[number]}`)
    : purpose;
}

const knownMethods = ['sdk', 'event', 'api', 'import'] as const;

function methodLabel(method: string | null, t: T): string {
  if (method === null) return '';
  return (knownMethods as readonly string[]).includes(method)
    ? t(`method.${method as (typeof knownMethods)[number]}`)
    : method;
}

function ConsentBadge({ state }: { readonly state: string }) {
  const { t } = useTranslation('profiles');
  const known = state === 'granted' || state === 'denied' ? state : 'unknown';
  const tone = known === 'granted' ? 'ok' : known === 'denied' ? 'danger' : '';
  return <span className={`badge ${tone}`}>{t(`consentState.${known}`)}</span>;
}

export function ConsentSection({
  profile,
  sourceName,
}: {
  readonly profile: Profile;
  readonly sourceName: (id: string) => string;
}) {
  const { t } = useTranslation('profiles');
  const purposes = Object.entries(profile.consent.purposes);
  const history = [...profile.consent.history].reverse();
  const how = (entry: ConsentPurpose | ConsentChange) =>
    [
      methodLabel(entry.method, t),
      entry.sourceId === null ? '' : sourceName(entry.sourceId),
      entry.detail ?? '',
    ]
      .filter((part) => part !== '')
      .join(' · ');
  return (
    <Section title={t('consentTitle')}>
      <ul className="consent-list">
        {purposes.map(([purpose, entry]) => (
          <li key={purpose} className="consent-item" data-testid={`consent-${purpose}`}>
            <div className="consent-purpose">
              <span>{purposeLabel(purpose, t)}</span>
              <ConsentBadge state={entry.state} />
            </div>
            {entry.at !== null && (
              <div className="muted consent-since">
                {t('consentSince', { date: formatDate(entry.at), how: how(entry) })}
              </div>
            )}
            {entry.doubleOptIn !== undefined && entry.doubleOptIn.state !== 'none' && (
              <div className="muted consent-since">{t(`doubleOptIn.${entry.doubleOptIn.state}`)}</div>
            )}
          </li>
        ))}
      </ul>
      <details className="consent-history">
        <summary>{t('consentHistory', { count: history.length })}</summary>
        {history.length === 0 ? (
          <p className="muted">{t('consentHistoryEmpty')}</p>
        ) : (
          <ol className="consent-changes">
            {history.map((change, index) => (
              <li key={`${change.messageId}-${change.purpose}-${index}`}>
                <div className="consent-purpose">
                  <span>{purposeLabel(change.purpose, t)}</span>
                  <ConsentBadge state={change.state} />
                </div>
                <div className="muted">
                  <time dateTime={change.at}>{formatDateTime(change.at)}</time> · {how(change)}
                </div>
              </li>
            ))}
          </ol>
        )}
      </details>
    </Section>
  );
}

export function SegmentsSection({ profile }: { readonly profile: Profile }) {
  const { t } = useTranslation('profiles');
  return (
    <Section title={t('segmentsTitle')} actions={<span className="muted">{profile.segments.length}</span>}>
      {profile.segments.length === 0 ? (
        <p className="muted">{t('segmentsEmpty')}</p>
      ) : (
        <ul className="profiles-chips">
          {profile.segments.map((segment) => (
            <li key={segment.id}>
              <Link to={`/segments/${encodeURIComponent(segment.id)}`} className="profiles-chip">
                {segment.name}
              </Link>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

export function ComputedTraitsSection({ profile }: { readonly profile: Profile }) {
  const { t } = useTranslation('profiles');
  const entries = Object.entries(profile.computedTraits).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Section title={t('computedTitle')}>
      {entries.length === 0 ? (
        <p className="muted">{t('computedEmpty')}</p>
      ) : (
        <dl className="profiles-facts">
          {entries.map(([name, value]) => (
            <div key={name}>
              <dt>{name}</dt>
              <dd>
                <TraitValue value={value} />
              </dd>
            </div>
          ))}
        </dl>
      )}
    </Section>
  );
}

export function MergesSection({
  profile,
  sourceName,
  onUnmerge,
}: {
  readonly profile: Profile;
  readonly sourceName: (id: string) => string;
  /** Absent when the role may not unmerge. */
  readonly onUnmerge?: (merge: Merge) => void;
}) {
  const { t } = useTranslation('profiles');
  const merges = [...profile.merges].reverse();
  return (
    <Section title={t('mergesTitle')} actions={<span className="muted">{merges.length}</span>}>
      {merges.length === 0 ? (
        <p className="muted">{t('mergesEmpty')}</p>
      ) : (
        <ol className="merge-list">
          {merges.map((merge) => (
            <li key={merge.id} className="merge-item" data-testid="merge">
              <div className="merge-head">
                <span>{t('mergeAbsorbed', { absorbed: merge.absorbed, survivor: merge.survivor })}</span>
                {merge.undoneAt === null ? (
                  <span className="badge">{t(`mergeKind.${merge.kind}`)}</span>
                ) : (
                  <span className="badge warn">{t('mergeUndone')}</span>
                )}
              </div>
              <div className="muted">
                {formatDateTime(merge.at)}
                {merge.identifier !== null &&
                  ` · ${t('mergeBecause', { type: merge.identifier.type, value: merge.identifier.value })}`}
                {merge.sourceId !== null && ` · ${sourceName(merge.sourceId)}`}
              </div>
              {merge.undoneAt !== null && (
                <div className="muted">{t('mergeUndoneAt', { date: formatDateTime(merge.undoneAt) })}</div>
              )}
              {merge.undoneAt === null && onUnmerge !== undefined && (
                <button
                  type="button"
                  className="merge-action"
                  onClick={() => onUnmerge(merge)}
                  aria-label={t('unmergeLabel', { absorbed: merge.absorbed })}
                >
                  {t('unmerge')}
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
    </Section>
  );
}
