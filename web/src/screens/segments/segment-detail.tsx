import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { Chart, type ChartOption } from '../../components/chart.tsx';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { DataTable, type Column } from '../../components/data-table.tsx';
import {
  formatDate,
  formatDateTime,
  formatNumber,
  formatPercent,
  formatRelative,
} from '../../components/format.ts';
import { Page, Section, Stat } from '../../components/page.tsx';
import { EmptyState, QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { Pager, useCursorPages } from '../../components/pager.tsx';
import { Field, ProfileLink, ShareBar } from './parts.tsx';
import { segmentKeys, segmentsApi, type Segment } from './segments-api.ts';

const day = 86_400_000;
const ranges = [30, 90, 365] as const;

/** /segments/:id: the size, the rule, its history, members, entries and exits, overlap, what sets it apart. */
export function SegmentDetail() {
  const { t } = useTranslation('segments');
  const { id = '' } = useParams();
  const query = useQuery({ queryKey: segmentKeys.one(id), queryFn: () => segmentsApi.get(id) });
  if (query.data === undefined) {
    return (
      <Page title={t('title')}>
        <QueryView query={query}>{() => null}</QueryView>
      </Page>
    );
  }
  return <SegmentPage segment={query.data} />;
}

function SegmentPage({ segment }: { readonly segment: Segment }) {
  const { t } = useTranslation('segments');
  const { permissions } = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const remove = useMutation({
    mutationFn: () => segmentsApi.remove(segment.id),
    onSuccess: async () => {
      setConfirming(false);
      queryClient.removeQueries({ queryKey: segmentKeys.one(segment.id) });
      await queryClient.invalidateQueries({ queryKey: segmentKeys.list });
      await navigate('/segments');
    },
  });
  const path = `/segments/${encodeURIComponent(segment.id)}`;

  return (
    <Page
      title={segment.name}
      subtitle={segment.description === null || segment.description === '' ? undefined : segment.description}
      actions={
        <>
          <Link to="/segments" className="button">
            {t('detail.back')}
          </Link>
          {permissions.write && (
            <>
              <Link to={`${path}/edit`} className="button primary">
                {t('detail.edit')}
              </Link>
              <button type="button" className="danger" onClick={() => setConfirming(true)}>
                {t('delete', { ns: 'common' })}
              </button>
            </>
          )}
        </>
      }
    >
      <div className="stats">
        <Stat
          label={t('detail.size')}
          value={<span data-testid="segment-size">{formatNumber(segment.size)}</span>}
        />
        <Stat
          label={t('detail.updated')}
          value={formatRelative(segment.updatedAt)}
          hint={formatDateTime(segment.updatedAt)}
        />
        <Stat
          label={t('detail.refreshed')}
          value={formatRelative(segment.refreshedAt)}
          hint={formatDateTime(segment.refreshedAt)}
        />
      </div>
      <Section title={t('detail.rule')}>
        <pre className="rule-view" data-testid="segment-rule">
          {segment.text}
        </pre>
      </Section>
      <div className="grid segments-two">
        <SizeHistory segment={segment} />
        <OverlapSection segment={segment} />
      </div>
      <MembersSection segment={segment} />
      <DistinguishingSection segment={segment} />
      <ChangesSection segment={segment} />
      <ConfirmDialog
        open={confirming}
        title={t('detail.deleteTitle', { name: segment.name })}
        confirmLabel={t('delete', { ns: 'common' })}
        danger
        pending={remove.isPending}
        onConfirm={() => remove.mutate()}
        onCancel={() => {
          setConfirming(false);
          remove.reset();
        }}
      >
        <p>{t('detail.deleteText')}</p>
        {remove.isError && (
          <p className="error-text" role="alert">
            {remove.error.message}
          </p>
        )}
      </ConfirmDialog>
    </Page>
  );
}

function SizeHistory({ segment }: { readonly segment: Segment }) {
  const { t } = useTranslation('segments');
  const [days, setDays] = useState<number>(30);
  const query = useQuery({
    queryKey: segmentKeys.sizes(segment.id, days),
    queryFn: () =>
      segmentsApi.sizes(segment.id, new Date(Date.now() - days * day).toISOString().slice(0, 10)),
    placeholderData: keepPreviousData,
  });
  const option = useMemo<ChartOption | null>(() => {
    const sizes = query.data;
    if (sizes === undefined) return null;
    return {
      grid: { left: 48, right: 16, top: 16, bottom: 32 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: sizes.map((point) => formatDate(point.day)), boundaryGap: false },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        {
          type: 'line',
          name: t('detail.members'),
          data: sizes.map((point) => point.size),
          areaStyle: { opacity: 0.12 },
          showSymbol: false,
          color: '#3b4cca',
        },
      ],
    };
  }, [query.data, t]);
  return (
    <Section
      title={t('detail.history')}
      actions={
        <Field label={<span className="visually-hidden">{t('detail.range')}</span>} className="inline">
          {(id) => (
            <select id={id} value={days} onChange={(event) => setDays(Number(event.target.value))}>
              {ranges.map((range) => (
                <option key={range} value={range}>
                  {t('detail.lastDays', { count: range })}
                </option>
              ))}
            </select>
          )}
        </Field>
      }
    >
      <QueryView query={query} isEmpty={(sizes) => sizes.length === 0}>
        {(sizes) =>
          option === null ? null : (
            <Chart
              option={option}
              height={240}
              label={t('detail.historyLabel', {
                days,
                first: formatNumber(sizes[0]?.size),
                last: formatNumber(sizes.at(-1)?.size),
              })}
            />
          )
        }
      </QueryView>
    </Section>
  );
}

function OverlapSection({ segment }: { readonly segment: Segment }) {
  const { t } = useTranslation('segments');
  const list = useQuery({ queryKey: segmentKeys.list, queryFn: segmentsApi.list });
  const others = (list.data ?? []).filter((other) => other.id !== segment.id);
  const [chosen, setChosen] = useState('');
  const other = others.find((candidate) => candidate.id === chosen) ?? others[0];
  const overlap = useQuery({
    queryKey: segmentKeys.overlap(segment.id, other?.id ?? ''),
    queryFn: () => segmentsApi.overlap(segment.id, other!.id),
    enabled: other !== undefined,
  });
  return (
    <Section title={t('overlap.title')}>
      <QueryView query={list} isEmpty={() => others.length === 0} empty={t('overlap.noOther')}>
        {() => (
          <div className="stack">
            <Field label={t('overlap.with')}>
              {(id) => (
                <select id={id} value={other?.id ?? ''} onChange={(event) => setChosen(event.target.value)}>
                  {others.map((candidate) => (
                    <option key={candidate.id} value={candidate.id}>
                      {candidate.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <QueryView query={overlap}>
              {(result) => {
                const [first, second] = result.segments;
                const union = result.both + result.onlyFirst + result.onlySecond;
                const share = (count: number) => (union === 0 ? 0 : count / union);
                return (
                  <div className="stack" data-testid="overlap">
                    <div
                      className="overlap-bar"
                      role="img"
                      aria-label={t('overlap.barLabel', {
                        first: first?.name,
                        second: second?.name,
                        onlyFirst: result.onlyFirst,
                        both: result.both,
                        onlySecond: result.onlySecond,
                      })}
                    >
                      <span className="overlap-first" style={{ flexGrow: share(result.onlyFirst) }} />
                      <span className="overlap-both" style={{ flexGrow: share(result.both) }} />
                      <span className="overlap-second" style={{ flexGrow: share(result.onlySecond) }} />
                    </div>
                    <table className="overlap-table">
                      <caption className="visually-hidden">{t('overlap.title')}</caption>
                      <tbody>
                        <tr>
                          <th scope="row">
                            <span className="swatch overlap-first" aria-hidden="true" />
                            {t('overlap.onlyIn', { name: first?.name })}
                          </th>
                          <td className="numeric">{formatNumber(result.onlyFirst)}</td>
                        </tr>
                        <tr>
                          <th scope="row">
                            <span className="swatch overlap-both" aria-hidden="true" />
                            {t('overlap.both')}
                          </th>
                          <td className="numeric" data-testid="overlap-both">
                            {formatNumber(result.both)}
                          </td>
                        </tr>
                        <tr>
                          <th scope="row">
                            <span className="swatch overlap-second" aria-hidden="true" />
                            {t('overlap.onlyIn', { name: second?.name })}
                          </th>
                          <td className="numeric">{formatNumber(result.onlySecond)}</td>
                        </tr>
                      </tbody>
                    </table>
                    <p className="muted">
                      {t('overlap.shares', {
                        ofFirst: formatPercent((first?.size ?? 0) === 0 ? 0 : result.both / first!.size),
                        first: first?.name,
                        ofSecond: formatPercent((second?.size ?? 0) === 0 ? 0 : result.both / second!.size),
                        second: second?.name,
                        jaccard: formatPercent(result.jaccard),
                      })}
                    </p>
                  </div>
                );
              }}
            </QueryView>
          </div>
        )}
      </QueryView>
    </Section>
  );
}

function MembersSection({ segment }: { readonly segment: Segment }) {
  const { t } = useTranslation('segments');
  const { permissions } = useSession();
  const pages = useCursorPages();
  const query = useQuery({
    queryKey: segmentKeys.members(segment.id, pages.cursor),
    queryFn: () => segmentsApi.members(segment.id, pages.cursor),
    placeholderData: keepPreviousData,
  });
  return (
    <Section title={t('detail.membersTitle', { count: segment.size })}>
      {!permissions.personalData && <p className="muted">{t('pseudonymised', { ns: 'common' })}</p>}
      <QueryView query={query} isEmpty={(page) => page.rows.length === 0} empty={t('detail.noMembers')}>
        {(page) => (
          <>
            <DataTable
              caption={t('detail.membersTitle', { count: segment.size })}
              rows={page.rows}
              rowKey={(card) => String(card.id)}
              columns={[
                { key: 'profile', header: t('column.profile'), cell: (card) => <ProfileLink card={card} /> },
                {
                  key: 'identifiers',
                  header: t('column.identifiers'),
                  cell: (card) => (
                    <span className="identifiers">
                      {card.identifiers.slice(0, 2).map((identifier) => (
                        <span key={`${identifier.type}:${identifier.value}`} className="badge">
                          {identifier.type}: {identifier.value}
                        </span>
                      ))}
                    </span>
                  ),
                },
                {
                  key: 'city',
                  header: t('column.city'),
                  cell: (card) => (typeof card.traits.city === 'string' ? card.traits.city : ''),
                },
                {
                  key: 'lastSeen',
                  header: t('column.lastSeen'),
                  cell: (card) => formatRelative(card.lastSeen),
                },
              ]}
            />
            <Pager label={t('detail.membersPages')} pages={pages} nextCursor={page.nextCursor} />
          </>
        )}
      </QueryView>
    </Section>
  );
}

function ChangesSection({ segment }: { readonly segment: Segment }) {
  const { t } = useTranslation('segments');
  const pages = useCursorPages();
  const query = useQuery({
    queryKey: segmentKeys.changes(segment.id, pages.cursor),
    queryFn: () => segmentsApi.changes(segment.id, pages.cursor),
    placeholderData: keepPreviousData,
  });
  return (
    <Section title={t('changes.title')}>
      <p className="muted">{t('changes.intro')}</p>
      <QueryView query={query} isEmpty={(page) => page.rows.length === 0} empty={t('changes.empty')}>
        {(page) => (
          <>
            <DataTable
              caption={t('changes.title')}
              rows={page.rows}
              rowKey={(change) => String(change.seq)}
              columns={[
                {
                  key: 'event',
                  header: t('changes.change'),
                  cell: (change) =>
                    change.event === 'Segment Entered' ? (
                      <span className="badge ok">{t('changes.entered')}</span>
                    ) : (
                      <span className="badge warn">{t('changes.exited')}</span>
                    ),
                },
                {
                  key: 'profile',
                  header: t('column.profile'),
                  cell: (change) => <Link to={`/profiles/${change.profileId}`}>#{change.profileId}</Link>,
                },
                { key: 'at', header: t('changes.at'), cell: (change) => formatDateTime(change.timestamp) },
              ]}
            />
            <Pager label={t('changes.pages')} pages={pages} nextCursor={page.nextCursor} />
          </>
        )}
      </QueryView>
    </Section>
  );
}

function DistinguishingSection({ segment }: { readonly segment: Segment }) {
  const { t } = useTranslation('segments');
  const query = useQuery({
    queryKey: segmentKeys.distinguishing(segment.id),
    queryFn: () => segmentsApi.distinguishing(segment.id),
  });
  const lift = (value: number) =>
    t('distinguishing.times', { value: formatNumber(value, { maximumFractionDigits: 1 }) });
  return (
    <Section title={t('distinguishing.title')}>
      <QueryView query={query}>
        {(report) => (
          <div className="stack">
            <p className="muted">
              {t('distinguishing.intro', {
                members: formatNumber(report.members),
                base: formatNumber(report.base),
                since: formatDate(report.since),
              })}
            </p>
            <div className="stack distinguishing">
              <div>
                <h3>{t('distinguishing.traits')}</h3>
                {report.traits.length === 0 ? (
                  <EmptyState>{t('distinguishing.noTraits')}</EmptyState>
                ) : (
                  <DataTable
                    caption={t('distinguishing.traits')}
                    rows={report.traits}
                    rowKey={(row) => `${row.name}=${String(row.value)}`}
                    columns={[
                      {
                        key: 'trait',
                        header: t('distinguishing.trait'),
                        cell: (row) => (
                          <>
                            <code>{row.name}</code> = <strong>{String(row.value)}</strong>
                          </>
                        ),
                      },
                      ...shareColumns(t('distinguishing.memberShare'), t('distinguishing.baseShare')),
                      {
                        key: 'lift',
                        header: t('distinguishing.lift'),
                        numeric: true,
                        cell: (row) => lift(row.lift),
                      },
                    ]}
                  />
                )}
              </div>
              <div>
                <h3>{t('distinguishing.events')}</h3>
                {report.events.length === 0 ? (
                  <EmptyState>{t('distinguishing.noEvents')}</EmptyState>
                ) : (
                  <DataTable
                    caption={t('distinguishing.events')}
                    rows={report.events}
                    rowKey={(row) => `${row.type}:${row.event}`}
                    columns={[
                      {
                        key: 'event',
                        header: t('distinguishing.event'),
                        cell: (row) => (row.type === 'page' ? t('distinguishing.pageViews') : row.event),
                      },
                      ...shareColumns(t('distinguishing.memberShare'), t('distinguishing.baseShare')),
                      {
                        key: 'perMember',
                        header: t('distinguishing.perMember'),
                        numeric: true,
                        cell: (row) =>
                          `${formatNumber(row.perMember, { maximumFractionDigits: 1 })} / ${formatNumber(row.perPerson, { maximumFractionDigits: 1 })}`,
                      },
                      {
                        key: 'lift',
                        header: t('distinguishing.lift'),
                        numeric: true,
                        cell: (row) => lift(row.lift),
                      },
                    ]}
                  />
                )}
              </div>
            </div>
          </div>
        )}
      </QueryView>
    </Section>
  );
}

/** The two columns of the report that compare members with the whole base, as bars and percentages. */
function shareColumns<T extends { readonly memberShare: number; readonly baseShare: number }>(
  membersHeader: string,
  baseHeader: string,
): Column<T>[] {
  return [
    {
      key: 'members',
      header: membersHeader,
      numeric: true,
      cell: (row) => (
        <span className="share-cell">
          <ShareBar share={row.memberShare} />
          {formatPercent(row.memberShare)}
        </span>
      ),
    },
    {
      key: 'base',
      header: baseHeader,
      numeric: true,
      cell: (row) => (
        <span className="share-cell">
          <ShareBar share={row.baseShare} tone="base" />
          {formatPercent(row.baseShare)}
        </span>
      ),
    },
  ];
}
