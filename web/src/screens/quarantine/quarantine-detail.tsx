import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { api, ApiError } from '../../api.ts';
import { formatDateTime, formatNumber } from '../../components/format.ts';
import { Page, Section } from '../../components/page.tsx';
import { DetailFailure, Loading } from '../../components/states.tsx';
import { sourceNameOf, useSources } from '../sources/source-api.ts';
import {
  editablePayload,
  parseCorrection,
  type QuarantineRecord,
  type ReplayResult,
} from './quarantine-api.ts';
import { RecordStatus } from './record-status.tsx';

/** One rejected record: why, what was sent, and an editor to fix it and replay it. */
export function QuarantineDetail() {
  const { t } = useTranslation('quarantine');
  const { id = '' } = useParams();
  const query = useQuery({
    queryKey: ['quarantine', 'record', id],
    queryFn: () => api.get<QuarantineRecord>(`/api/quarantine/${encodeURIComponent(id)}`),
    retry: false,
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
  return <RecordView key={query.data.id} record={query.data} />;
}

function RecordView({ record }: { readonly record: QuarantineRecord }) {
  const { t } = useTranslation('quarantine');
  const sources = useSources();
  const source = sourceNameOf(sources.data)(record.sourceId);
  // Kept here: once replayed, the record shows no editor, and the result must stay in view.
  const [replayed, setReplayed] = useState<ReplayResult | null>(null);
  return (
    <Page
      title={t('detail.title', { id: record.id })}
      subtitle={t('detail.subtitle', { source, date: formatDateTime(record.receivedAt) })}
      actions={
        <Link className="button" to="..">
          {t('back')}
        </Link>
      }
    >
      {replayed !== null && (
        <p className="quarantine-notice" role="status">
          {t('editor.replayed', {
            count: replayed.accepted,
            duplicates: formatNumber(replayed.duplicates),
          })}
        </p>
      )}
      <Section title={t('detail.why')} actions={<RecordStatus record={record} />}>
        <dl className="quarantine-facts">
          <dt>{t('detail.code')}</dt>
          <dd>
            <code data-testid="quarantine-code">{record.code}</code>
          </dd>
          <dt>{t('detail.reason')}</dt>
          <dd data-testid="quarantine-reason">{record.reason}</dd>
          <dt>{t('detail.field')}</dt>
          <dd>{record.field === null ? t('none', { ns: 'common' }) : <code>{record.field}</code>}</dd>
          <dt>{t('detail.what')}</dt>
          <dd>
            {record.batchIndex === null
              ? t('kind.request', { kind: record.kind })
              : t('kind.item', { kind: record.kind, index: record.batchIndex + 1 })}
          </dd>
          <dt>{t('detail.source')}</dt>
          <dd>{source}</dd>
          <dt>{t('detail.received')}</dt>
          <dd>{formatDateTime(record.receivedAt)}</dd>
          {record.messageId !== null && (
            <>
              <dt>{t('detail.messageId')}</dt>
              <dd>
                <code>{record.messageId}</code>
              </dd>
            </>
          )}
          {record.replayedAt !== null && (
            <>
              <dt>{t('detail.replayedAt')}</dt>
              <dd>{formatDateTime(record.replayedAt)}</dd>
            </>
          )}
        </dl>
      </Section>
      {record.status === 'pending' ? (
        <ReplayEditor record={record} onReplayed={setReplayed} />
      ) : (
        <Section title={t('detail.payload')}>
          <pre className="quarantine-payload" tabIndex={0}>
            {editablePayload(record.payload)}
          </pre>
        </Section>
      )}
    </Page>
  );
}

function ReplayEditor({
  record,
  onReplayed,
}: {
  readonly record: QuarantineRecord;
  readonly onReplayed: (result: ReplayResult) => void;
}) {
  const { t } = useTranslation('quarantine');
  const queryClient = useQueryClient();
  const editorId = useId();
  const original = editablePayload(record.payload);
  const [text, setText] = useState(original);
  const parsed = parseCorrection(text);
  const changed = text !== original;
  const replay = useMutation({
    mutationFn: (correction: { event: unknown } | null) =>
      api.post<ReplayResult>(`/api/quarantine/${record.id}/replay`, correction ?? {}),
    onSuccess: (result) => {
      onReplayed(result);
      void queryClient.invalidateQueries({ queryKey: ['quarantine'] });
    },
  });
  const error = replay.error;
  return (
    <Section title={t('editor.title')}>
      <div className="stack">
        <p className="muted">{record.batchIndex === null ? t('editor.helpRequest') : t('editor.helpItem')}</p>
        <div className="quarantine-field">
          <label htmlFor={editorId}>{t('editor.label')}</label>
          <textarea
            id={editorId}
            className="quarantine-editor"
            spellCheck={false}
            rows={Math.min(24, Math.max(8, text.split('\n').length + 1))}
            value={text}
            aria-invalid={!parsed.ok}
            aria-describedby={parsed.ok ? undefined : `${editorId}-error`}
            onChange={(event) => setText(event.target.value)}
          />
          {!parsed.ok && (
            <p id={`${editorId}-error`} className="error-text">
              {t('editor.invalidJson', { message: parsed.message })}
            </p>
          )}
        </div>
        {error !== null && (
          <div className="state state-error quarantine-error" role="alert">
            <strong>{t('editor.failed')}</strong>
            <p>{error.message}</p>
            {error instanceof ApiError && error.body.field !== undefined && (
              <p>{t('editor.field', { field: error.body.field })}</p>
            )}
            {/* The API's hint for a record still invalid speaks of request bodies: here the editor is the way. */}
            {error instanceof ApiError &&
              error.body.hint !== undefined &&
              error.code !== 'CIBLE_ERR_QUARANTINE_STILL_INVALID' && (
                <p className="muted">{error.body.hint}</p>
              )}
          </div>
        )}
        <div className="row">
          <button
            type="button"
            className="primary"
            disabled={!parsed.ok || !changed || replay.isPending}
            onClick={() => parsed.ok && replay.mutate({ event: parsed.value })}
          >
            {t('editor.replayCorrected')}
          </button>
          <button type="button" disabled={replay.isPending} onClick={() => replay.mutate(null)}>
            {t('editor.replayAsKept')}
          </button>
          <button type="button" className="link" disabled={!changed} onClick={() => setText(original)}>
            {t('editor.reset')}
          </button>
        </div>
      </div>
      <details className="quarantine-original">
        <summary>{t('detail.payload')}</summary>
        <pre tabIndex={0}>{record.payload}</pre>
      </details>
    </Section>
  );
}
