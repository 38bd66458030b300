import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Route, Routes, useNavigate } from 'react-router';
import { DataTable } from '../../components/data-table.tsx';
import { formatDateTime, formatNumber } from '../../components/format.ts';
import { Page } from '../../components/page.tsx';
import { QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { Field, SegmentTabs } from './parts.tsx';
import { RfmScreen } from './rfm-screen.tsx';
import { SegmentDetail } from './segment-detail.tsx';
import { SegmentEditor } from './segment-editor.tsx';
import { segmentKeys, segmentsApi, type Segment } from './segments-api.ts';
import './segments.css';

/** The Segments area: the list, the RFM grid, the editor and each segment's page. */
export function SegmentsScreen() {
  return (
    <Routes>
      <Route index element={<SegmentList />} />
      <Route path="rfm" element={<RfmScreen />} />
      <Route path="new" element={<SegmentEditor />} />
      <Route path=":id" element={<SegmentDetail />} />
      <Route path=":id/edit" element={<SegmentEditor />} />
    </Routes>
  );
}

function SegmentList() {
  const { t } = useTranslation('segments');
  const { permissions } = useSession();
  const navigate = useNavigate();
  const [filter, setFilter] = useState('');
  const query = useQuery({ queryKey: segmentKeys.list, queryFn: segmentsApi.list });
  const needle = filter.trim().toLowerCase();
  const matches = (segment: Segment) =>
    needle === '' ||
    segment.name.toLowerCase().includes(needle) ||
    (segment.description ?? '').toLowerCase().includes(needle);

  return (
    <Page
      title={t('title')}
      subtitle={t('subtitle')}
      actions={
        permissions.write ? (
          <Link to="/segments/new" className="button primary">
            {t('new')}
          </Link>
        ) : undefined
      }
    >
      <SegmentTabs />
      <QueryView
        query={query}
        isEmpty={(segments) => segments.length === 0}
        empty={
          <>
            <p>{t('list.empty')}</p>
            {permissions.write && <Link to="/segments/new">{t('list.createFirst')}</Link>}
          </>
        }
      >
        {(segments) => {
          const shown = segments.filter(matches).sort((a, b) => a.name.localeCompare(b.name));
          return (
            <section className="card" aria-label={t('list.title')}>
              <div className="segments-toolbar">
                <Field label={t('list.filter')} className="inline">
                  {(id) => (
                    <input
                      id={id}
                      type="search"
                      value={filter}
                      onChange={(event) => setFilter(event.target.value)}
                    />
                  )}
                </Field>
                <span className="muted">{t('list.count', { count: shown.length })}</span>
              </div>
              {shown.length === 0 ? (
                <p className="muted">{t('list.noMatch')}</p>
              ) : (
                <DataTable
                  caption={t('list.title')}
                  rows={shown}
                  rowKey={(segment) => segment.id}
                  onRowClick={(segment) => void navigate(`/segments/${encodeURIComponent(segment.id)}`)}
                  rowLabel={(segment) => t('list.open', { name: segment.name })}
                  columns={[
                    {
                      key: 'name',
                      header: t('field.name'),
                      cell: (segment) => <strong>{segment.name}</strong>,
                    },
                    {
                      key: 'description',
                      header: t('field.description'),
                      cell: (segment) => <span className="muted">{segment.description ?? ''}</span>,
                    },
                    {
                      key: 'size',
                      header: t('list.size'),
                      numeric: true,
                      cell: (segment) => formatNumber(segment.size),
                    },
                    {
                      key: 'updated',
                      header: t('list.updated'),
                      cell: (segment) => formatDateTime(segment.updatedAt),
                    },
                  ]}
                />
              )}
            </section>
          );
        }}
      </QueryView>
    </Page>
  );
}
