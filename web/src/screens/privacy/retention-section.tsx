import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { errorText } from '../../api.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { formatDateTime, formatNumber, formatRelative } from '../../components/format.ts';
import { Section } from '../../components/page.tsx';
import { EmptyState } from '../../components/states.tsx';
import { privacyKey, runRetention, type PrivacyStatus, type RetentionRule } from './privacy-api.ts';

type PrivacyT = ReturnType<typeof useTranslation<'privacy'>>['t'];

/** A rule in words: "page events", "Product Viewed from web". */
export function ruleWords(rule: RetentionRule, t: PrivacyT): string {
  const what =
    rule.event !== undefined
      ? rule.event
      : rule.type !== undefined
        ? t('retention.typeEvents', { type: rule.type })
        : t('retention.allEvents');
  return rule.source === undefined ? what : t('retention.fromSource', { what, source: rule.source });
}

interface RuleRow {
  readonly index: number;
  readonly rule: RetentionRule;
  readonly deleted: number | undefined;
}

export function RetentionSection({ retention }: { readonly retention: PrivacyStatus['retention'] }) {
  const { t } = useTranslation('privacy');
  const queryClient = useQueryClient();
  const [asking, setAsking] = useState(false);
  const run = useMutation({
    mutationFn: runRetention,
    onSettled: () => queryClient.invalidateQueries({ queryKey: privacyKey }),
  });
  const { rules, lastRun, nextRunAt } = retention;
  const rows: RuleRow[] = rules.map((rule, index) => ({ index, rule, deleted: lastRun?.deleted[index] }));
  const columns: Column<RuleRow>[] = [
    {
      key: 'rule',
      header: t('retention.rule'),
      cell: (row) =>
        t('retention.ruleLine', {
          what: ruleWords(row.rule, t),
          days: t('retention.days', { count: row.rule.days }),
        }),
    },
    {
      key: 'deleted',
      header: t('retention.lastDeleted'),
      numeric: true,
      cell: (row) => formatNumber(row.deleted),
    },
  ];
  const total = lastRun?.deleted.reduce((sum, count) => sum + count, 0) ?? 0;

  return (
    <Section
      title={t('retention.title')}
      actions={
        rules.length > 0 && (
          <button
            type="button"
            className="danger"
            disabled={run.isPending}
            aria-busy={run.isPending}
            onClick={() => {
              run.reset();
              setAsking(true);
            }}
          >
            {run.isPending ? t('retention.busy') : t('retention.button')}
          </button>
        )
      }
    >
      {rules.length === 0 ? (
        <EmptyState>{t('retention.empty')}</EmptyState>
      ) : (
        <div className="stack">
          <p className="muted privacy-help">{t('retention.help')}</p>
          <dl className="privacy-runs">
            <div>
              <dt>{t('retention.lastRun')}</dt>
              <dd>
                {lastRun === null ? (
                  t('retention.lastRunNever')
                ) : (
                  <>
                    <time dateTime={lastRun.at}>{formatDateTime(lastRun.at)}</time>
                    {' · '}
                    {t('retention.lastRunTotal', { count: total })}
                  </>
                )}
              </dd>
            </div>
            <div>
              <dt>{t('retention.nextRun')}</dt>
              <dd>
                {nextRunAt === null ? (
                  t('retention.nextRunNone')
                ) : (
                  <time dateTime={nextRunAt} title={formatDateTime(nextRunAt)}>
                    {formatRelative(nextRunAt)}
                  </time>
                )}
              </dd>
            </div>
          </dl>
          <div role="status" aria-live="polite">
            {run.isSuccess && (
              <p className="privacy-notice">
                {t('retention.done', { count: run.data.deleted.reduce((sum, count) => sum + count, 0) })}
              </p>
            )}
          </div>
          {run.isError && (
            <p role="alert" className="error-text">
              {t('retention.failed', { message: errorText(run.error) })}
            </p>
          )}
          <DataTable
            caption={t('retention.rules')}
            columns={columns}
            rows={rows}
            rowKey={(row) => String(row.index)}
          />
        </div>
      )}
      {asking && (
        <ConfirmDialog
          open
          title={t('retention.confirmTitle')}
          confirmLabel={t('retention.button')}
          danger
          onCancel={() => setAsking(false)}
          onConfirm={() => {
            setAsking(false);
            run.mutate();
          }}
        >
          <p>{t('retention.confirmText')}</p>
        </ConfirmDialog>
      )}
    </Section>
  );
}
