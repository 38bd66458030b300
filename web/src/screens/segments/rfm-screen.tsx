import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { DataTable } from '../../components/data-table.tsx';
import { formatDateTime, formatNumber, formatPercent } from '../../components/format.ts';
import { Page, Section, Stat } from '../../components/page.tsx';
import { QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { Pager, useCursorPages } from '../../components/pager.tsx';
import { ProfileLink, SegmentTabs } from './parts.tsx';
import { segmentKeys, segmentsApi, type Rfm, type RfmSelection } from './segments-api.ts';

const scores = [1, 2, 3, 4, 5] as const;
/** The grid reads like the usual RFM chart: the most recent customers on top. */
const rowsTopDown = [5, 4, 3, 2, 1] as const;

/** The group of each cell, as docs/analysis.md lays them out (rfmGroup on the server). */
function groupOf(r: number, f: number): string {
  if (r === 5) return f === 1 ? 'New Customers' : f <= 3 ? 'Potential Loyalists' : 'Champions';
  if (r === 4) {
    if (f === 1) return 'Promising';
    if (f <= 3) return 'Potential Loyalists';
    return f === 4 ? 'Loyal Customers' : 'Champions';
  }
  if (r === 3) return f <= 2 ? 'About to Sleep' : f === 3 ? 'Need Attention' : 'Loyal Customers';
  if (f === 5) return "Can't Lose Them";
  if (f >= 3) return 'At Risk';
  return r === 2 ? 'Hibernating' : 'Lost';
}

/** The message key of each group the API names, so the names and advice read in the console's language. */
const groupKeys = {
  Champions: 'champions',
  'Loyal Customers': 'loyal',
  'Potential Loyalists': 'potential',
  'New Customers': 'new',
  Promising: 'promising',
  'Need Attention': 'attention',
  'About to Sleep': 'sleep',
  'At Risk': 'risk',
  "Can't Lose Them": 'cantLose',
  Hibernating: 'hibernating',
  Lost: 'lost',
} as const;

type GroupName = keyof typeof groupKeys;

function isGroupName(name: string): name is GroupName {
  return name in groupKeys;
}

/** A group's name and advice in the console's language; the API's words for a group it does not know. */
function useGroupText() {
  const { t } = useTranslation('segments');
  return {
    name: (name: string) => (isGroupName(name) ? t(`rfmGroup.${groupKeys[name]}`) : name),
    advice: (name: string, fallback: string) =>
      isGroupName(name) ? t(`rfmAdvice.${groupKeys[name]}`) : fallback,
  };
}

const sameSelection = (a: RfmSelection | null, b: RfmSelection) =>
  a !== null &&
  (a.kind === 'group'
    ? b.kind === 'group' && a.group === b.group
    : b.kind === 'cell' && a.r === b.r && a.f === b.f);

/** /segments/rfm: customers by recency and frequency score, and who is in each cell or group. */
export function RfmScreen() {
  const { t } = useTranslation('segments');
  const groupText = useGroupText();
  const query = useQuery({ queryKey: segmentKeys.rfm, queryFn: segmentsApi.rfm });
  const [selection, setSelection] = useState<RfmSelection | null>(null);
  return (
    <Page title={t('title')} subtitle={t('rfm.subtitle')}>
      <SegmentTabs />
      <QueryView query={query} isEmpty={(rfm) => rfm.customers === 0} empty={t('rfm.empty')}>
        {(rfm) => (
          <>
            <div className="stats">
              <Stat
                label={t('rfm.customers')}
                value={<span data-testid="rfm-customers">{formatNumber(rfm.customers)}</span>}
              />
              <Stat
                label={t('rfm.purchase')}
                value={<span className="stat-text">{rfm.event}</span>}
                hint={t('rfm.amount', { property: rfm.property })}
              />
              <Stat
                label={t('rfm.asOf')}
                value={<span className="stat-text">{formatDateTime(rfm.asOf)}</span>}
              />
            </div>
            <div className="rfm-layout">
              <Section title={t('rfm.gridTitle')}>
                <RfmGrid rfm={rfm} selection={selection} onSelect={setSelection} />
              </Section>
              <Section title={t('rfm.groupsTitle')}>
                <DataTable
                  caption={t('rfm.groupsTitle')}
                  rows={rfm.groups}
                  rowKey={(group) => group.name}
                  onRowClick={(group) => setSelection({ kind: 'group', group: group.name })}
                  rowLabel={(group) =>
                    t('rfm.showGroup', { group: groupText.name(group.name), count: group.customers })
                  }
                  columns={[
                    {
                      key: 'name',
                      header: t('rfm.group'),
                      cell: (group) => (
                        <span title={groupText.advice(group.name, group.description)}>
                          <strong>{groupText.name(group.name)}</strong>
                        </span>
                      ),
                    },
                    {
                      key: 'customers',
                      header: t('rfm.customers'),
                      numeric: true,
                      cell: (group) => formatNumber(group.customers),
                    },
                    {
                      key: 'share',
                      header: t('rfm.share'),
                      numeric: true,
                      cell: (group) => formatPercent(group.share),
                    },
                    {
                      key: 'recency',
                      header: t('rfm.recency'),
                      numeric: true,
                      cell: (group) => formatNumber(group.recencyDays, { maximumFractionDigits: 0 }),
                    },
                    {
                      key: 'frequency',
                      header: t('rfm.frequency'),
                      numeric: true,
                      cell: (group) => formatNumber(group.frequency, { maximumFractionDigits: 1 }),
                    },
                    {
                      key: 'monetary',
                      header: t('rfm.monetary'),
                      numeric: true,
                      cell: (group) => formatNumber(group.monetary, { maximumFractionDigits: 0 }),
                    },
                  ]}
                />
              </Section>
            </div>
            {selection !== null && (
              <RfmMembers
                key={selection.kind === 'group' ? selection.group : `${selection.r}-${selection.f}`}
                selection={selection}
                description={(() => {
                  const name =
                    selection.kind === 'group' ? selection.group : groupOf(selection.r, selection.f);
                  const group = rfm.groups.find((candidate) => candidate.name === name);
                  return group === undefined ? undefined : groupText.advice(group.name, group.description);
                })()}
              />
            )}
          </>
        )}
      </QueryView>
    </Page>
  );
}

function RfmGrid({
  rfm,
  selection,
  onSelect,
}: {
  readonly rfm: Rfm;
  readonly selection: RfmSelection | null;
  readonly onSelect: (selection: RfmSelection) => void;
}) {
  const { t } = useTranslation('segments');
  const groupText = useGroupText();
  const largest = Math.max(1, ...rfm.grid.flat());
  return (
    <div className="table-wrap">
      <table className="rfm-grid" data-testid="rfm-grid">
        <caption className="visually-hidden">{t('rfm.gridCaption')}</caption>
        <thead>
          <tr>
            <th scope="col">
              <span className="visually-hidden">{t('rfm.recency')}</span>
            </th>
            {scores.map((f) => (
              <th key={f} scope="col">
                {t('rfm.fScore', { score: f })}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rowsTopDown.map((r) => (
            <tr key={r}>
              <th scope="row">{t('rfm.rScore', { score: r })}</th>
              {scores.map((f) => {
                const count = rfm.grid[r - 1]?.[f - 1] ?? 0;
                const intensity = count / largest;
                const group = groupText.name(groupOf(r, f));
                const cell: RfmSelection = { kind: 'cell', r, f };
                return (
                  <td key={f}>
                    <button
                      type="button"
                      className={`rfm-cell ${intensity > 0.5 ? 'rfm-cell-dark' : ''}`}
                      style={{ backgroundColor: `rgba(59, 76, 202, ${0.06 + intensity * 0.84})` }}
                      aria-pressed={sameSelection(selection, cell)}
                      aria-label={t('rfm.cellLabel', { r, f, group, count })}
                      data-testid={`rfm-cell-${r}-${f}`}
                      onClick={() => onSelect(cell)}
                    >
                      <span className="rfm-count">{formatNumber(count)}</span>
                      <span className="rfm-group">{group}</span>
                    </button>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted rfm-axes">{t('rfm.axes')}</p>
    </div>
  );
}

function RfmMembers({
  selection,
  description,
}: {
  readonly selection: RfmSelection;
  readonly description: string | undefined;
}) {
  const { t } = useTranslation('segments');
  const { permissions } = useSession();
  const groupText = useGroupText();
  const pages = useCursorPages();
  const query = useQuery({
    queryKey: segmentKeys.rfmMembers(selection, pages.cursor),
    queryFn: () => segmentsApi.rfmMembers(selection, pages.cursor),
    placeholderData: keepPreviousData,
  });
  const title =
    selection.kind === 'group'
      ? t('rfm.membersOfGroup', { group: groupText.name(selection.group) })
      : t('rfm.membersOfCell', {
          r: selection.r,
          f: selection.f,
          group: groupText.name(groupOf(selection.r, selection.f)),
        });
  return (
    <Section title={title}>
      {description !== undefined && <p className="muted">{description}</p>}
      {!permissions.personalData && <p className="muted">{t('pseudonymised', { ns: 'common' })}</p>}
      <QueryView query={query} isEmpty={(page) => page.rows.length === 0} empty={t('rfm.noMembers')}>
        {(page) => (
          <>
            <DataTable
              caption={title}
              rows={page.rows}
              rowKey={(customer) => String(customer.id)}
              columns={[
                {
                  key: 'profile',
                  header: t('column.profile'),
                  cell: (customer) => <ProfileLink card={customer} />,
                },
                {
                  key: 'scores',
                  header: t('rfm.scores'),
                  cell: (customer) => <code>{`R${customer.r} F${customer.f} M${customer.m}`}</code>,
                },
                {
                  key: 'recency',
                  header: t('rfm.recencyDays'),
                  numeric: true,
                  cell: (customer) => formatNumber(customer.recencyDays),
                },
                {
                  key: 'frequency',
                  header: t('rfm.orders'),
                  numeric: true,
                  cell: (customer) => formatNumber(customer.frequency),
                },
                {
                  key: 'monetary',
                  header: t('rfm.monetary'),
                  numeric: true,
                  cell: (customer) => formatNumber(customer.monetary, { maximumFractionDigits: 2 }),
                },
              ]}
            />
            <Pager label={t('rfm.membersPages')} pages={pages} nextCursor={page.nextCursor} />
          </>
        )}
      </QueryView>
    </Section>
  );
}
