import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Route, Routes } from 'react-router';
import { errorText } from '../../api.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { formatDateTime, formatNumber, formatRelative } from '../../components/format.ts';
import { Page, Section, Stat } from '../../components/page.tsx';
import { RoleGate } from '../../components/role-gate.tsx';
import { EmptyState, QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import {
  privacyKey,
  purgeNow,
  totalRows,
  useActorNames,
  usePrivacy,
  type Erasure,
  type PrivacyStatus,
  type PurgeOutcome,
} from './privacy-api.ts';
import { RetentionSection } from './retention-section.tsx';
import './privacy.css';

export function PrivacyScreen() {
  const { t } = useTranslation('privacy');
  const { permissions } = useSession();
  // Erasures name who asked, and purge and retention delete for good: administrators only.
  return (
    <RoleGate allowed={permissions.admin} title={t('title')} message={t('forbiddenRole')}>
      <Routes>
        <Route index element={<PrivacyOverview />} />
      </Routes>
    </RoleGate>
  );
}

/** "340ms", "2.4s" (in French "340 ms", "2,4 s"). */
export function formatDuration(ms: number): string {
  return ms < 1000
    ? formatNumber(Math.round(ms), { style: 'unit', unit: 'millisecond', unitDisplay: 'short' })
    : formatNumber(ms / 1000, {
        style: 'unit',
        unit: 'second',
        unitDisplay: 'short',
        maximumFractionDigits: 1,
      });
}

function PrivacyOverview() {
  const { t } = useTranslation('privacy');
  const queryClient = useQueryClient();
  const query = usePrivacy();
  const [asking, setAsking] = useState(false);
  const purge = useMutation({
    mutationFn: purgeNow,
    onSettled: () => queryClient.invalidateQueries({ queryKey: privacyKey }),
  });
  const pending = query.data?.pendingPurges ?? 0;

  return (
    <Page
      title={t('title')}
      subtitle={t('subtitle')}
      actions={
        <button
          type="button"
          className="primary"
          disabled={purge.isPending || pending === 0}
          aria-busy={purge.isPending}
          onClick={() => {
            purge.reset();
            setAsking(true);
          }}
        >
          {purge.isPending ? t('purge.busy') : t('purge.button')}
        </button>
      }
    >
      <div className="privacy-outcome" role="status" aria-live="polite">
        {purge.isPending && (
          <p className="privacy-notice busy">
            <span className="spinner" aria-hidden="true" /> {t('purge.busyText')}
          </p>
        )}
        {purge.isSuccess && <p className="privacy-notice">{purgeText(purge.data, t)}</p>}
      </div>
      {purge.isError && (
        <p role="alert" className="error-text">
          {t('purge.failed', { message: errorText(purge.error) })}
        </p>
      )}
      <QueryView query={query}>
        {(status) => (
          <div className="stack">
            <PrivacyStats status={status} />
            <ErasureSection erasures={status.erasures} />
            <RetentionSection retention={status.retention} />
          </div>
        )}
      </QueryView>
      {asking && (
        <ConfirmDialog
          open
          title={t('purge.confirmTitle')}
          confirmLabel={t('purge.button')}
          danger
          onCancel={() => setAsking(false)}
          onConfirm={() => {
            setAsking(false);
            purge.mutate();
          }}
        >
          <p>{t('purge.confirmText')}</p>
          <p className="muted">{t('purge.confirmWait')}</p>
        </ConfirmDialog>
      )}
    </Page>
  );
}

type PrivacyT = ReturnType<typeof useTranslation<'privacy'>>['t'];

function purgeText(outcome: PurgeOutcome, t: PrivacyT): string {
  if (outcome.method === undefined || outcome.purged === 0) return t('purge.doneNothing');
  return t('purge.done', {
    count: outcome.purged,
    duration: formatDuration(outcome.ms),
    method: t(`method.${outcome.method}`),
  });
}

function PrivacyStats({ status }: { readonly status: PrivacyStatus }) {
  const { t } = useTranslation('privacy');
  const { lastPurge } = status;
  return (
    <div className="stats" role="group" aria-label={t('stats.label')}>
      <Stat
        label={t('stats.pending')}
        value={formatNumber(status.pendingPurges)}
        hint={
          status.purgeDueAt === null ? (
            t('stats.pendingNone')
          ) : (
            <time dateTime={status.purgeDueAt} title={formatDateTime(status.purgeDueAt)}>
              {t('stats.pendingDue', { when: formatRelative(status.purgeDueAt) })}
            </time>
          )
        }
      />
      <Stat
        label={t('stats.lastPurge')}
        value={
          // Words rather than a figure: smaller, so that "3 minutes ago" holds on one line.
          <span className="privacy-stat-text">
            {lastPurge === null ? (
              t('stats.lastPurgeNever')
            ) : (
              <time dateTime={lastPurge.at} title={formatDateTime(lastPurge.at)}>
                {formatRelative(lastPurge.at)}
              </time>
            )}
          </span>
        }
        hint={
          lastPurge === null
            ? undefined
            : t('stats.lastPurgeHint', {
                count: lastPurge.purged,
                duration: formatDuration(lastPurge.ms),
                method: t(`method.${lastPurge.method}`),
              })
        }
      />
      <Stat
        label={t('stats.suppressed')}
        value={formatNumber(status.suppressedIdentifiers)}
        hint={t('stats.suppressedHint')}
      />
      <Stat
        label={t('stats.dropped')}
        value={formatNumber(status.droppedEvents)}
        hint={t('stats.droppedHint')}
      />
    </div>
  );
}

function ErasureSection({ erasures }: { readonly erasures: readonly Erasure[] }) {
  const { t } = useTranslation('privacy');
  const actors = useActorNames();
  function actorName(id: string): string {
    if (id === 'bootstrap') return t('erasures.bootstrap');
    const token = actors.data?.tokens.get(id);
    if (token !== undefined) return t('erasures.token', { name: token });
    return actors.data?.users.get(id) ?? id;
  }
  const columns: Column<Erasure>[] = [
    {
      key: 'when',
      header: t('erasures.when'),
      cell: (erasure) => <time dateTime={erasure.erasedAt}>{formatDateTime(erasure.erasedAt)}</time>,
    },
    { key: 'profile', header: t('erasures.profile'), cell: (erasure) => <code>#{erasure.profileId}</code> },
    {
      key: 'by',
      header: t('erasures.by'),
      cell: (erasure) => <span className="privacy-actor">{actorName(erasure.requestedBy)}</span>,
    },
    { key: 'removed', header: t('erasures.removed'), cell: (erasure) => <RemovedRows erasure={erasure} /> },
    {
      key: 'status',
      header: t('erasures.status'),
      cell: (erasure) =>
        erasure.purgedAt === null ? (
          <span className="badge warn">{t('erasures.pending')}</span>
        ) : (
          <span
            className="badge ok"
            title={t('erasures.purgedAt', { time: formatDateTime(erasure.purgedAt) })}
          >
            {t('erasures.purged')}
          </span>
        ),
    },
  ];
  return (
    <Section title={t('erasures.title')}>
      <p className="muted privacy-help">{t('erasures.help')}</p>
      {erasures.length === 0 ? (
        <EmptyState>{t('erasures.empty')}</EmptyState>
      ) : (
        <DataTable caption={t('erasures.title')} columns={columns} rows={erasures} rowKey={(row) => row.id} />
      )}
    </Section>
  );
}

/** The total, and the rows per table on demand. */
function RemovedRows({ erasure }: { readonly erasure: Erasure }) {
  const { t } = useTranslation('privacy');
  const tables = Object.entries(erasure.removed).filter(([, rows]) => rows > 0);
  const total = t('erasures.rows', { count: totalRows(erasure) });
  if (tables.length === 0) return <span>{total}</span>;
  return (
    <details className="privacy-tables">
      <summary>{total}</summary>
      <ul aria-label={t('erasures.perTable')}>
        {tables.map(([table, rows]) => (
          <li key={table}>
            <code>{table}</code> {formatNumber(rows)}
          </li>
        ))}
      </ul>
    </details>
  );
}
