import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Route, Routes, useNavigate, useSearchParams } from 'react-router';
import { api, ApiError } from '../../api.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { formatDateTime, formatNumber } from '../../components/format.ts';
import { RoleGate } from '../../components/role-gate.tsx';
import { Pager, useCursorPages } from '../../components/pager.tsx';
import { Page, Section } from '../../components/page.tsx';
import { QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { sourceNameOf, useSources } from '../sources/source-api.ts';
import { QuarantineDetail } from './quarantine-detail.tsx';
import { type QuarantineRecord, type ReplayAllResult } from './quarantine-api.ts';
import { RecordStatus } from './record-status.tsx';
import './quarantine.css';

export function QuarantineScreen() {
  const { t } = useTranslation('quarantine');
  const { permissions } = useSession();
  // Rejected events hold personal data as sent: administrators and marketers only.
  return (
    <RoleGate allowed={permissions.write} title={t('title')} message={t('forbiddenRole')}>
      <Routes>
        <Route index element={<QuarantineList />} />
        <Route path=":id" element={<QuarantineDetail />} />
      </Routes>
    </RoleGate>
  );
}

const pageSize = 50;

function QuarantineList() {
  const { t } = useTranslation('quarantine');
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const status = params.get('status') ?? 'pending';
  const sourceId = params.get('sourceId') ?? '';
  const code = params.get('code') ?? '';
  const pages = useCursorPages();
  const cursor = pages.cursor;
  const [asking, setAsking] = useState(false);
  const sources = useSources();
  const nameOf = sourceNameOf(sources.data);
  const query = useQuery({
    queryKey: ['quarantine', 'list', status, sourceId, code, cursor ?? null],
    queryFn: () =>
      api.get<{ records: QuarantineRecord[]; nextCursor: number | null }>('/api/quarantine', {
        status: status === 'all' ? undefined : status,
        sourceId,
        code,
        limit: pageSize,
        cursor,
      }),
  });
  const replayAll = useMutation({
    mutationFn: () =>
      api.post<ReplayAllResult>('/api/quarantine/replay', {
        ...(sourceId === '' ? {} : { sourceId }),
        ...(code === '' ? {} : { code }),
      }),
    onSuccess: () => {
      setAsking(false);
      void queryClient.invalidateQueries({ queryKey: ['quarantine'] });
    },
  });

  function filter(name: string, value: string) {
    const next = new URLSearchParams(params);
    if (value === '' || (name === 'status' && value === 'pending')) next.delete(name);
    else next.set(name, value);
    setParams(next, { replace: true });
    pages.reset();
  }

  const codes = [...new Set(query.data?.records.map((record) => record.code) ?? [])].sort();
  const columns: Column<QuarantineRecord>[] = [
    { key: 'received', header: t('list.received'), cell: (record) => formatDateTime(record.receivedAt) },
    { key: 'source', header: t('list.source'), cell: (record) => nameOf(record.sourceId) },
    {
      key: 'reason',
      header: t('list.reason'),
      cell: (record) => (
        <div className="quarantine-reason">
          <code>{record.code}</code>
          <span>{record.reason}</span>
        </div>
      ),
    },
    {
      key: 'kind',
      header: t('list.kind'),
      cell: (record) =>
        record.batchIndex === null
          ? t('kind.request', { kind: record.kind })
          : t('kind.item', { kind: record.kind, index: record.batchIndex + 1 }),
    },
    { key: 'status', header: t('list.status'), cell: (record) => <RecordStatus record={record} /> },
  ];

  return (
    <Page
      title={t('title')}
      subtitle={t('subtitle')}
      actions={
        <button type="button" className="primary" onClick={() => setAsking(true)}>
          {t('replayAll.button')}
        </button>
      }
    >
      {replayAll.isSuccess && <ReplayAllSummary result={replayAll.data} />}
      <Section title={t('list.title')}>
        <div className="stack">
          <div className="row">
            <label>
              {t('filter.status')}
              <select value={status} onChange={(event) => filter('status', event.target.value)}>
                <option value="pending">{t('status.pending')}</option>
                <option value="replayed">{t('status.replayed')}</option>
                <option value="all">{t('filter.all')}</option>
              </select>
            </label>
            <label>
              {t('filter.source')}
              <select value={sourceId} onChange={(event) => filter('sourceId', event.target.value)}>
                <option value="">{t('filter.allSources')}</option>
                {(sources.data ?? []).map((source) => (
                  <option key={source.id} value={source.id}>
                    {source.name}
                  </option>
                ))}
              </select>
            </label>
            <label>
              {t('filter.code')}
              <input
                type="search"
                list="quarantine-codes"
                value={code}
                placeholder="CIBLE_ERR_…"
                onChange={(event) => filter('code', event.target.value.trim())}
              />
              <datalist id="quarantine-codes">
                {codes.map((value) => (
                  <option key={value} value={value} />
                ))}
              </datalist>
            </label>
          </div>
          <QueryView
            query={query}
            isEmpty={(data) => data.records.length === 0}
            empty={
              status === 'pending' && sourceId === '' && code === ''
                ? t('list.emptyPending')
                : t('list.empty')
            }
          >
            {(data) => (
              <div className="stack">
                <DataTable
                  caption={t('list.title')}
                  columns={columns}
                  rows={data.records}
                  rowKey={(record) => String(record.id)}
                  rowLabel={(record) => t('list.open', { id: record.id, code: record.code })}
                  onRowClick={(record) => void navigate(String(record.id))}
                />
                <Pager label={t('list.pages')} pages={pages} nextCursor={data.nextCursor} />
              </div>
            )}
          </QueryView>
        </div>
      </Section>
      <ConfirmDialog
        open={asking}
        title={t('replayAll.title')}
        confirmLabel={t('replayAll.confirm')}
        pending={replayAll.isPending}
        onConfirm={() => replayAll.mutate()}
        onCancel={() => setAsking(false)}
      >
        <p>{sourceId === '' && code === '' ? t('replayAll.text') : t('replayAll.textFiltered')}</p>
        {replayAll.isError && (
          <p role="alert" className="error-text">
            {replayAll.error instanceof ApiError ? replayAll.error.message : t('replayAll.failed')}
          </p>
        )}
      </ConfirmDialog>
    </Page>
  );
}

function ReplayAllSummary({ result }: { readonly result: ReplayAllResult }) {
  const { t } = useTranslation('quarantine');
  return (
    <div className="card quarantine-summary" role="status">
      <p>
        {t('replayAll.result', {
          count: result.replayed,
          accepted: formatNumber(result.accepted),
          duplicates: formatNumber(result.duplicates),
        })}
      </p>
      {result.stillInvalid.length > 0 && (
        <>
          <p>{t('replayAll.stillInvalid', { count: result.stillInvalid.length })}</p>
          <ul>
            {result.stillInvalid.slice(0, 10).map((record) => (
              <li key={record.id}>
                <Link to={String(record.id)}>#{record.id}</Link> <code>{record.code}</code> {record.reason}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
