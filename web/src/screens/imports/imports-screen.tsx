import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Route, Routes, useNavigate, useParams } from 'react-router';
import { api } from '../../api.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { formatDateTime, formatNumber } from '../../components/format.ts';
import { RoleGate } from '../../components/role-gate.tsx';
import { Pager, useCursorPages } from '../../components/pager.tsx';
import { Page, Section, Stat } from '../../components/page.tsx';
import { DetailFailure, ErrorState, Loading, QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { sourceNameOf, useSources } from '../sources/source-api.ts';
import { isActive, statusTone, type ImportJob, type RejectedRow } from './import-api.ts';
import { NewImport } from './new-import.tsx';
import './imports.css';

export function ImportsScreen() {
  const { t } = useTranslation('imports');
  const { permissions } = useSession();
  // Imports bring in and show personal data: administrators and marketers only.
  return (
    <RoleGate allowed={permissions.write} title={t('title')} message={t('forbiddenRole')}>
      <Routes>
        <Route index element={<ImportList />} />
        <Route path="new" element={<NewImport />} />
        <Route path=":id" element={<ImportDetail />} />
      </Routes>
    </RoleGate>
  );
}

const pageSize = 25;

function StatusBadge({ job }: { readonly job: Pick<ImportJob, 'status'> }) {
  const { t } = useTranslation('imports');
  return <span className={statusTone(job.status)}>{t(`status.${job.status}`)}</span>;
}

function ImportList() {
  const { t } = useTranslation('imports');
  const navigate = useNavigate();
  const pages = useCursorPages();
  const cursor = pages.cursor;
  const query = useQuery({
    queryKey: ['imports', cursor ?? null],
    queryFn: () =>
      api.get<{ imports: ImportJob[]; nextCursor: number | null }>('/api/imports', {
        limit: pageSize,
        cursor,
      }),
    refetchInterval: (current) =>
      current.state.data?.imports.some((job) => isActive(job.status)) === true ? 2000 : false,
  });
  const columns: Column<ImportJob>[] = [
    { key: 'file', header: t('list.file'), cell: (job) => <strong>{job.fileName}</strong> },
    { key: 'kind', header: t('list.kind'), cell: (job) => t(`kind.${job.kind}`) },
    { key: 'status', header: t('list.status'), cell: (job) => <StatusBadge job={job} /> },
    { key: 'created', header: t('list.created'), cell: (job) => formatDateTime(job.createdAt) },
    { key: 'rows', header: t('list.rows'), numeric: true, cell: (job) => formatNumber(job.rows.read) },
    {
      key: 'stored',
      header: t('list.stored'),
      numeric: true,
      cell: (job) => formatNumber(job.events.accepted),
    },
    {
      key: 'rejected',
      header: t('list.rejected'),
      numeric: true,
      cell: (job) =>
        job.rows.rejected > 0 ? (
          <span className="badge danger">{formatNumber(job.rows.rejected)}</span>
        ) : (
          formatNumber(0)
        ),
    },
  ];
  return (
    <Page
      title={t('title')}
      subtitle={t('subtitle')}
      actions={
        <Link className="button primary" to="new">
          {t('newImport')}
        </Link>
      }
    >
      <Section title={t('list.title')}>
        <QueryView
          query={query}
          isEmpty={(data) => data.imports.length === 0 && cursor === undefined}
          empty={t('list.empty')}
        >
          {(data) => (
            <div className="stack">
              <DataTable
                caption={t('list.title')}
                columns={columns}
                rows={data.imports}
                rowKey={(job) => job.id}
                rowLabel={(job) => t('list.open', { name: job.fileName })}
                onRowClick={(job) => void navigate(job.id)}
              />
              <Pager label={t('list.pages')} pages={pages} nextCursor={data.nextCursor} />
            </div>
          )}
        </QueryView>
      </Section>
    </Page>
  );
}

function ImportDetail() {
  const { t } = useTranslation('imports');
  const { id = '' } = useParams();
  const query = useQuery({
    queryKey: ['import', id],
    queryFn: () => api.get<ImportJob>(`/api/imports/${encodeURIComponent(id)}`),
    refetchInterval: (current) => (isActive(current.state.data?.status) ? 1000 : false),
  });
  if (query.isPending) return <Loading />;
  if (query.isError) {
    return (
      <Page title={t('title')}>
        <DetailFailure
          error={query.error}
          notFound={t('detail.notFound', { id })}
          back={t('back')}
          onRetry={() => void query.refetch()}
        />
      </Page>
    );
  }
  return <ImportView job={query.data} />;
}

function ImportView({ job }: { readonly job: ImportJob }) {
  const { t } = useTranslation('imports');
  const queryClient = useQueryClient();
  const sources = useSources();
  const [asking, setAsking] = useState(false);
  const cancel = useMutation({
    mutationFn: () => api.post<ImportJob>(`/api/imports/${job.id}/cancel`),
    onSuccess: (updated) => {
      queryClient.setQueryData(['import', job.id], updated);
      void queryClient.invalidateQueries({ queryKey: ['imports'] });
      setAsking(false);
    },
  });
  const active = isActive(job.status);
  const finished = !active;
  return (
    <Page
      title={job.fileName}
      subtitle={t('detail.subtitle', {
        kind: t(`kind.${job.kind}`),
        source: sourceNameOf(sources.data)(job.sourceId),
        date: formatDateTime(job.createdAt),
      })}
      actions={
        <>
          {active && (
            <button type="button" onClick={() => setAsking(true)}>
              {t('detail.cancel')}
            </button>
          )}
          <Link className="button" to="..">
            {t('back')}
          </Link>
        </>
      }
    >
      <Section title={t('detail.progress')} actions={<StatusBadge job={job} />}>
        <div className="stack">
          <div className="imports-progress">
            <label htmlFor="import-progress">
              {t('detail.fileRead', { percent: formatNumber(job.progress.percent) })}
            </label>
            <progress id="import-progress" max={100} value={job.progress.percent} />
          </div>
          <div className="stats">
            <Stat label={t('detail.rowsRead')} value={formatNumber(job.rows.read)} />
            <Stat label={t('detail.stored')} value={formatNumber(job.events.accepted)} />
            <Stat
              label={t('detail.duplicates')}
              value={formatNumber(job.events.duplicates)}
              hint={t('detail.duplicatesHint')}
            />
            <Stat label={t('detail.rejected')} value={formatNumber(job.rows.rejected)} />
            <Stat
              label={t('detail.speed')}
              value={formatNumber(job.rowsPerSecond)}
              hint={t('detail.speedHint')}
            />
          </div>
          <p className="muted" role="status">
            {job.status === 'completed'
              ? job.rows.rejected === 0
                ? t('detail.doneClean')
                : t('detail.doneRejected', { count: job.rows.rejected })
              : job.status === 'awaiting_file'
                ? t('detail.awaitingFile')
                : active
                  ? t('detail.running')
                  : job.status === 'cancelled'
                    ? t('detail.cancelled')
                    : ''}
          </p>
          {job.error !== null && (
            <div className="state state-error" role="alert">
              <strong>{t('detail.failed')}</strong>
              <p>{job.error.message}</p>
              <p className="muted">{job.error.code}</p>
            </div>
          )}
        </div>
      </Section>
      {finished && job.rows.rejected > 0 && <RejectedRows job={job} />}
      <details className="card imports-mapping">
        <summary>{t('detail.mapping')}</summary>
        <pre>{JSON.stringify(job.mapping, null, 2)}</pre>
      </details>
      <ConfirmDialog
        open={asking}
        title={t('detail.cancelTitle')}
        confirmLabel={t('detail.cancel')}
        danger
        pending={cancel.isPending}
        onConfirm={() => cancel.mutate()}
        onCancel={() => setAsking(false)}
      >
        <p>{t('detail.cancelText')}</p>
        {cancel.isError && (
          <p role="alert" className="error-text">
            {cancel.error.message}
          </p>
        )}
      </ConfirmDialog>
    </Page>
  );
}

function RejectedRows({ job }: { readonly job: ImportJob }) {
  const { t } = useTranslation('imports');
  const query = useInfiniteQuery({
    queryKey: ['import-rejected', job.id, job.rows.rejected],
    queryFn: ({ pageParam }) =>
      api.get<{ rejected: RejectedRow[]; nextCursor: number | null }>(`/api/imports/${job.id}/rejected`, {
        limit: 100,
        cursor: pageParam,
      }),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const columns: Column<RejectedRow>[] = [
    { key: 'line', header: t('rejected.line'), numeric: true, cell: (row) => formatNumber(row.line) },
    { key: 'field', header: t('rejected.column'), cell: (row) => row.field ?? t('none', { ns: 'common' }) },
    {
      key: 'reason',
      header: t('rejected.reason'),
      cell: (row) => (
        <>
          {row.reason}
          <div className="muted imports-code">{row.code}</div>
        </>
      ),
    },
    { key: 'raw', header: t('rejected.raw'), cell: (row) => <code className="imports-raw">{row.raw}</code> },
  ];
  return (
    <Section
      title={t('rejected.title', { count: job.rows.rejected })}
      actions={
        <a className="button" href={`/api/imports/${job.id}/rejected/file`} download>
          {t('rejected.download')}
        </a>
      }
    >
      <p className="muted">{t('rejected.help')}</p>
      {query.isPending ? (
        <Loading />
      ) : query.isError ? (
        <ErrorState error={query.error} onRetry={() => void query.refetch()} />
      ) : (
        <div className="stack">
          <DataTable
            caption={t('rejected.caption')}
            columns={columns}
            rows={query.data.pages.flatMap((page) => page.rejected)}
            rowKey={(row) => String(row.line)}
          />
          {query.hasNextPage && (
            <div>
              <button
                type="button"
                disabled={query.isFetchingNextPage}
                onClick={() => void query.fetchNextPage()}
              >
                {t('rejected.more')}
              </button>
            </div>
          )}
        </div>
      )}
    </Section>
  );
}
