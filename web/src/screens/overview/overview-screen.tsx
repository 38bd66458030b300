import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { api } from '../../api.ts';
import { Chart, type ChartOption } from '../../components/chart.tsx';
import { formatDateTime, formatNumber, formatPercent } from '../../components/format.ts';
import { Page, Section, Stat } from '../../components/page.tsx';
import { EmptyState, QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import './overview.css';

interface MinuteCount {
  readonly at: string;
  readonly events: number;
}

interface Series {
  readonly counts: readonly number[];
  readonly events: number;
}

interface Overview {
  readonly generatedAt: string;
  readonly figuresAt: string;
  readonly totals: {
    readonly events: number;
    readonly sources: number;
    readonly profiles: number;
    readonly identified: number;
    readonly identifiedShare: number;
    readonly consented: number;
    readonly consentedShare: number;
  };
  readonly quarantine: { readonly pending: number; readonly replayed: number };
  readonly perMinute: readonly MinuteCount[];
  readonly series: {
    readonly bucket: 'hour' | 'day';
    readonly buckets: readonly string[];
    readonly events: number;
    readonly bySource: readonly (Series & { readonly sourceId: string; readonly name: string })[];
    readonly byType: readonly (Series & { readonly type: string })[];
  };
  readonly quality: {
    readonly validEmailShare: number;
    readonly validPhoneShare: number;
    readonly staleDays: number;
    readonly staleShare: number;
    readonly duplicateGroups: number;
    readonly duplicateProfiles: number;
    readonly rejectedIdentifiers: number;
  };
}

interface Live {
  readonly events: number;
  readonly perMinute: readonly MinuteCount[];
}

const periods = [1, 7, 30, 90] as const;
type Period = (typeof periods)[number];
const defaultPeriod: Period = 7;
const locales = { en: 'en-GB', fr: 'fr-FR' } as const;

function periodOf(value: string | null): Period {
  const days = Number(value);
  return (periods as readonly number[]).includes(days) ? (days as Period) : defaultPeriod;
}

/** The browser's time zone: the server starts days at midnight there. */
function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function useLocale(): string {
  const { i18n } = useTranslation();
  return i18n.language === 'fr' ? locales.fr : locales.en;
}

export function OverviewScreen() {
  const { t } = useTranslation('overview');
  const [params, setParams] = useSearchParams();
  const days = periodOf(params.get('days'));
  const timeZone = browserTimeZone();
  const query = useQuery({
    queryKey: ['overview', days, timeZone],
    queryFn: () => api.get<Overview>('/api/overview', { days, timeZone }),
    refetchInterval: 60_000,
  });

  function choose(value: string) {
    const next = new URLSearchParams(params);
    if (periodOf(value) === defaultPeriod) next.delete('days');
    else next.set('days', value);
    setParams(next, { replace: true });
  }

  const newInstall =
    query.data !== undefined && query.data.totals.sources === 0 && query.data.totals.events === 0;
  return (
    <Page
      title={t('title')}
      subtitle={t('subtitle')}
      actions={
        newInstall ? undefined : (
          <div className="overview-period">
            <label htmlFor="overview-period">{t('period')}</label>
            <select id="overview-period" value={days} onChange={(event) => choose(event.target.value)}>
              {periods.map((period) => (
                <option key={period} value={period}>
                  {t(`period.${period}`)}
                </option>
              ))}
            </select>
          </div>
        )
      }
    >
      <QueryView query={query}>
        {(overview) => (newInstall ? <NewInstall /> : <OverviewBody overview={overview} />)}
      </QueryView>
    </Page>
  );
}

function NewInstall() {
  const { t } = useTranslation('overview');
  const { permissions } = useSession();
  return (
    <section className="card overview-empty" aria-labelledby="overview-empty-title">
      <h2 id="overview-empty-title">{t('empty.title')}</h2>
      <p>{t('empty.text')}</p>
      {permissions.admin ? (
        <Link className="button primary" to="/sources">
          {t('empty.action')}
        </Link>
      ) : (
        <p className="muted">{t('empty.askAdmin')}</p>
      )}
    </section>
  );
}

function OverviewBody({ overview }: { readonly overview: Overview }) {
  const { t } = useTranslation('overview');
  const { permissions } = useSession();
  const live = useQuery({
    queryKey: ['overview', 'live'],
    queryFn: () => api.get<Live>('/api/overview/live'),
    refetchInterval: 5_000,
  });
  const perMinute = live.data?.perMinute ?? overview.perMinute;
  const lastHour = perMinute.reduce((sum, minute) => sum + minute.events, 0);
  const { totals, quarantine } = overview;
  return (
    <>
      <div className="stats overview-stats" role="group" aria-label={t('stats.label')}>
        <Stat
          label={t('stats.events')}
          value={formatNumber(live.data?.events ?? totals.events)}
          hint={t('stats.eventsHint', { n: formatNumber(lastHour) })}
        />
        <Stat
          label={t('stats.profiles')}
          value={formatNumber(totals.profiles)}
          hint={t('stats.profilesHint')}
        />
        <Stat
          label={t('stats.identified')}
          value={formatPercent(totals.identifiedShare)}
          hint={t('stats.identifiedHint', { n: formatNumber(totals.identified) })}
        />
        <Stat
          label={t('stats.consented')}
          value={formatPercent(totals.consentedShare)}
          hint={t('stats.consentedHint', { count: totals.consented, n: formatNumber(totals.consented) })}
        />
        <Stat
          label={t('stats.quarantine')}
          value={formatNumber(quarantine.pending)}
          hint={
            quarantine.pending === 0 ? (
              t('stats.quarantineNone')
            ) : permissions.write ? (
              <Link to="/quarantine">{t('stats.quarantineReview')}</Link>
            ) : undefined
          }
        />
      </div>
      <div className="overview-grid">
        <LiveChart perMinute={perMinute} />
        <QualityFigures overview={overview} />
      </div>
      <div className="overview-grid">
        <SeriesChart by="source" overview={overview} />
        <SeriesChart by="type" overview={overview} />
      </div>
    </>
  );
}

function LiveChart({ perMinute }: { readonly perMinute: readonly MinuteCount[] }) {
  const { t } = useTranslation('overview');
  const locale = useLocale();
  const total = perMinute.reduce((sum, minute) => sum + minute.events, 0);
  const option = useMemo((): ChartOption => {
    const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });
    return {
      tooltip: { trigger: 'axis' },
      grid: { left: 8, right: 8, top: 16, bottom: 8, containLabel: true },
      xAxis: {
        type: 'category',
        data: perMinute.map((minute) => time.format(new Date(minute.at))),
        axisTick: { alignWithLabel: true },
      },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        {
          name: t('live.series'),
          type: 'bar',
          data: perMinute.map((minute) => minute.events),
          itemStyle: { color: '#3b4cca' },
          barCategoryGap: '20%',
        },
      ],
    };
  }, [perMinute, locale, t]);
  return (
    <Section title={t('live.title')}>
      <p className="muted overview-note">{t('live.summary', { count: total, n: formatNumber(total) })}</p>
      <Chart
        option={option}
        height={220}
        label={t('live.chart', { n: formatNumber(total), last: formatNumber(perMinute.at(-1)?.events ?? 0) })}
      />
    </Section>
  );
}

function QualityFigures({ overview }: { readonly overview: Overview }) {
  const { t } = useTranslation('overview');
  const { quality } = overview;
  return (
    <Section title={t('quality.title')}>
      <dl className="overview-quality">
        <div>
          <dt>{t('quality.validEmail')}</dt>
          <dd>{formatPercent(quality.validEmailShare)}</dd>
        </div>
        <div>
          <dt>{t('quality.validPhone')}</dt>
          <dd>{formatPercent(quality.validPhoneShare)}</dd>
        </div>
        <div>
          <dt>{t('quality.stale', { days: quality.staleDays })}</dt>
          <dd>{formatPercent(quality.staleShare)}</dd>
        </div>
        <div>
          <dt>{t('quality.duplicates')}</dt>
          <dd>
            {formatNumber(quality.duplicateGroups)}
            <span className="muted overview-hint">
              {t('quality.duplicatesHint', {
                count: quality.duplicateProfiles,
                n: formatNumber(quality.duplicateProfiles),
              })}
            </span>
          </dd>
        </div>
        <div>
          <dt>{t('quality.rejected')}</dt>
          <dd>
            {formatNumber(quality.rejectedIdentifiers)}
            <span className="muted overview-hint">{t('quality.rejectedHint')}</span>
          </dd>
        </div>
      </dl>
      <p className="muted overview-note">{t('quality.asOf', { time: formatDateTime(overview.figuresAt) })}</p>
    </Section>
  );
}

/** Events over the period stacked by source or by type, one bar per hour or day. */
function SeriesChart({ by, overview }: { readonly by: 'source' | 'type'; readonly overview: Overview }) {
  const { t } = useTranslation('overview');
  const locale = useLocale();
  const { series } = overview;
  const title = by === 'source' ? t('bySource.title') : t('byType.title');
  const bucket = t(`bucket.${series.bucket}`);
  const rows = useMemo(
    (): readonly (Series & { readonly name: string })[] =>
      by === 'source'
        ? series.bySource.map((row) => ({ ...row, name: row.name }))
        : series.byType.map((row) => ({ ...row, name: row.type })),
    [by, series],
  );
  const option = useMemo((): ChartOption => {
    const label = new Intl.DateTimeFormat(
      locale,
      series.bucket === 'hour' ? { hour: '2-digit', minute: '2-digit' } : { day: 'numeric', month: 'short' },
    );
    return {
      tooltip: { trigger: 'axis' },
      legend: { type: 'scroll', top: 0 },
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: series.buckets.map((start) => label.format(new Date(start))) },
      yAxis: { type: 'value', minInterval: 1 },
      series: rows.map((row) => ({
        name: row.name,
        type: 'bar',
        stack: 'events',
        emphasis: { focus: 'series' },
        data: [...row.counts],
      })),
    };
  }, [rows, series, locale]);
  const totals = rows.map((row) => `${row.name} ${formatNumber(row.events)}`).join(', ');
  return (
    <Section title={title}>
      {series.events === 0 ? (
        <EmptyState>{t('series.empty')}</EmptyState>
      ) : (
        <>
          <p className="muted overview-note">
            {t('series.summary', { count: series.events, n: formatNumber(series.events), bucket })}
          </p>
          <Chart option={option} height={280} label={t('series.chart', { title, bucket, totals })} />
        </>
      )}
    </Section>
  );
}
