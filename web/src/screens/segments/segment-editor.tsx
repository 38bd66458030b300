import {
  keepPreviousData,
  useMutation,
  useQuery,
  useQueryClient,
  type UseQueryResult,
} from '@tanstack/react-query';
import { Fragment, useEffect, useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError } from '../../api.ts';
import { DataTable } from '../../components/data-table.tsx';
import { formatNumber, formatRelative } from '../../components/format.ts';
import { Page } from '../../components/page.tsx';
import { EmptyState, ErrorState, Loading, QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { Field, ProfileLink } from './parts.tsx';
import { ConditionBuilder } from './condition-builder.tsx';
import { appendCondition, caretPadding, linesAround, offsetOf } from './rule-builder.ts';
import {
  ruleErrorMessage,
  ruleErrorPosition,
  segmentKeys,
  segmentsApi,
  type PreviewResult,
  type RuleErrorPosition,
  type Segment,
  type SegmentInput,
} from './segments-api.ts';

/** How long typing must pause before the rule is sent for a preview. */
const previewDelayMs = 400;

/** /segments/new and /segments/:id/edit. */
export function SegmentEditor() {
  const { id } = useParams();
  if (id === undefined) return <EditorForm key="new" segment={null} />;
  return <ExistingSegmentEditor id={id} />;
}

function ExistingSegmentEditor({ id }: { readonly id: string }) {
  const { t } = useTranslation('segments');
  const query = useQuery({ queryKey: segmentKeys.one(id), queryFn: () => segmentsApi.get(id) });
  if (query.data !== undefined) return <EditorForm key={query.data.id} segment={query.data} />;
  return (
    <Page title={t('editor.editing')}>
      <QueryView query={query}>{() => null}</QueryView>
    </Page>
  );
}

function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return debounced;
}

/** Which field a save error is about, from the error's `field`. */
function fieldOf(error: unknown): 'name' | 'description' | 'rule' | null {
  if (!(error instanceof ApiError)) return null;
  const field = (error.body.field ?? '').replace(/^body\./, '');
  if (field.startsWith('rule')) return 'rule';
  if (field.startsWith('name')) return 'name';
  if (field.startsWith('description')) return 'description';
  return null;
}

function EditorForm({ segment }: { readonly segment: Segment | null }) {
  const { t } = useTranslation('segments');
  const { permissions } = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [name, setName] = useState(segment?.name ?? '');
  const [description, setDescription] = useState(segment?.description ?? '');
  const [rule, setRule] = useState(segment?.text ?? '');
  const textarea = useRef<HTMLTextAreaElement>(null);
  const debouncedRule = useDebounced(rule, previewDelayMs);
  const ruleToPreview = debouncedRule.trim();

  const preview = useQuery({
    queryKey: segmentKeys.preview(ruleToPreview),
    queryFn: () => segmentsApi.preview(ruleToPreview),
    enabled: ruleToPreview !== '',
    retry: false,
    staleTime: 30_000,
    placeholderData: keepPreviousData,
  });
  const segments = useQuery({ queryKey: segmentKeys.list, queryFn: segmentsApi.list });

  const save = useMutation({
    mutationFn: (input: SegmentInput) =>
      segment === null ? segmentsApi.create(input) : segmentsApi.update(segment.id, input),
    onSuccess: async (saved) => {
      queryClient.setQueryData(segmentKeys.one(saved.id), saved);
      await queryClient.invalidateQueries({ queryKey: segmentKeys.all });
      await navigate(`/segments/${encodeURIComponent(saved.id)}`);
    },
  });
  const saveField = save.isError ? fieldOf(save.error) : null;

  function changeRule(text: string) {
    setRule(text);
    if (saveField === 'rule') save.reset();
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!permissions.write) return;
    save.mutate({ name: name.trim(), description: description.trim(), rule });
  }

  function goTo(position: RuleErrorPosition) {
    const element = textarea.current;
    if (element === null) return;
    const offset = offsetOf(rule, position.line, position.column);
    element.focus();
    element.setSelectionRange(offset, Math.min(rule.length, offset + 1));
  }

  const typing = rule.trim() !== ruleToPreview;
  // The last answer stays until the next one, so the error does not blink away at each key.
  const answer = rule.trim() === '' ? undefined : preview.data;
  // A save refused for its rule says the latest word on it; otherwise the live preview does.
  const ruleError = saveField === 'rule' ? save.error : answer?.ok === false ? answer.error : null;
  const title = segment === null ? t('editor.newTitle') : t('editor.editTitle', { name: segment.name });

  return (
    <Page
      title={title}
      subtitle={permissions.write ? t('editor.subtitle') : t('editor.readOnly')}
      actions={
        <Link
          to={segment === null ? '/segments' : `/segments/${encodeURIComponent(segment.id)}`}
          className="button"
        >
          {t('editor.back')}
        </Link>
      }
    >
      <div className="segment-editor">
        <form
          className="card stack segment-form"
          onSubmit={submit}
          aria-label={t('editor.formLabel')}
          noValidate
        >
          <div className="segment-fields">
            <Field label={t('field.name')}>
              {(id) => (
                <>
                  <input
                    id={id}
                    value={name}
                    required
                    maxLength={200}
                    readOnly={!permissions.write}
                    aria-invalid={saveField === 'name'}
                    aria-describedby={saveField === 'name' ? 'segment-name-error' : undefined}
                    onChange={(event) => setName(event.target.value)}
                  />
                  {saveField === 'name' && (
                    <span id="segment-name-error" className="error-text" role="alert">
                      {save.error?.message}
                    </span>
                  )}
                </>
              )}
            </Field>
            <Field label={t('field.description')}>
              {(id) => (
                <>
                  <input
                    id={id}
                    value={description}
                    maxLength={2000}
                    readOnly={!permissions.write}
                    aria-invalid={saveField === 'description'}
                    aria-describedby={saveField === 'description' ? 'segment-description-error' : undefined}
                    onChange={(event) => setDescription(event.target.value)}
                  />
                  {saveField === 'description' && (
                    <span id="segment-description-error" className="error-text" role="alert">
                      {save.error?.message}
                    </span>
                  )}
                </>
              )}
            </Field>
          </div>
          <div className="field">
            <label htmlFor="segment-rule">{t('field.rule')}</label>
            <textarea
              id="segment-rule"
              ref={textarea}
              className="rule-text"
              value={rule}
              rows={6}
              spellCheck={false}
              autoCapitalize="off"
              autoCorrect="off"
              aria-invalid={ruleError !== null}
              aria-describedby="rule-help rule-error"
              placeholder={t('editor.placeholder')}
              onChange={(event) => changeRule(event.target.value)}
            />
          </div>
          <p id="rule-help" className="muted rule-help">
            {t('editor.help')}
          </p>
          <div id="rule-error" aria-live="polite" aria-atomic="true">
            {ruleError !== null && <RuleError rule={rule} error={ruleError} onGoTo={goTo} />}
          </div>
          <SyntaxHelp />
          {save.isError && saveField === null && (
            <p className="error-text" role="alert">
              {save.error?.message}
            </p>
          )}
          {permissions.write && (
            <div className="row">
              <button type="submit" className="primary" disabled={save.isPending}>
                {save.isPending ? t('saving', { ns: 'common' }) : t('save', { ns: 'common' })}
              </button>
            </div>
          )}
        </form>
        <ConditionBuilder
          ruleIsEmpty={rule.trim() === ''}
          segmentNames={(segments.data ?? [])
            .filter((other) => other.id !== segment?.id)
            .map((other) => other.name)}
          onAdd={(text, join) => changeRule(appendCondition(rule, text, join))}
        />
        <section className="card segment-preview" aria-label={t('preview.title')}>
          <header className="card-header">
            <h2>{t('preview.title')}</h2>
            {(typing || preview.isFetching) && ruleToPreview !== '' && (
              <span className="muted">{t('preview.updating')}</span>
            )}
          </header>
          <PreviewBody
            ruleIsEmpty={rule.trim() === ''}
            preview={preview}
            answer={answer}
            hasRuleError={ruleError !== null}
            personalData={permissions.personalData}
          />
        </section>
      </div>
    </Page>
  );
}

function PreviewBody({
  ruleIsEmpty,
  preview,
  answer,
  hasRuleError,
  personalData,
}: {
  readonly ruleIsEmpty: boolean;
  readonly preview: UseQueryResult<PreviewResult>;
  readonly answer: PreviewResult | undefined;
  readonly hasRuleError: boolean;
  readonly personalData: boolean;
}) {
  const { t } = useTranslation('segments');
  if (ruleIsEmpty) return <EmptyState>{t('preview.empty')}</EmptyState>;
  if (hasRuleError) return <p className="muted">{t('preview.fixError')}</p>;
  if (preview.isError) return <ErrorState error={preview.error} onRetry={() => void preview.refetch()} />;
  if (answer === undefined) return <Loading />;
  if (!answer.ok) return <p className="muted">{t('preview.fixError')}</p>;
  const { size, sample } = answer.preview;
  return (
    <div className="stack">
      <div className="stat" aria-live="polite" aria-atomic="true">
        <div className="stat-label">{t('preview.size')}</div>
        <div className="stat-value" data-testid="preview-size">
          {formatNumber(size)}
        </div>
      </div>
      {size === 0 ? (
        <p className="muted">{t('preview.nobody')}</p>
      ) : (
        <>
          <h3>{t('preview.sample', { count: sample.length })}</h3>
          {!personalData && <p className="muted">{t('pseudonymised', { ns: 'common' })}</p>}
          <DataTable
            caption={t('preview.sampleCaption')}
            rows={sample}
            rowKey={(card) => String(card.id)}
            columns={[
              { key: 'profile', header: t('column.profile'), cell: (card) => <ProfileLink card={card} /> },
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
        </>
      )}
    </div>
  );
}

/** The error's message, then the rule's lines around it with a caret under the column. */
function RuleError({
  rule,
  error,
  onGoTo,
}: {
  readonly rule: string;
  readonly error: unknown;
  readonly onGoTo: (position: RuleErrorPosition) => void;
}) {
  const { t } = useTranslation('segments');
  const position = ruleErrorPosition(error);
  return (
    <div className="rule-error">
      <p className="error-text" data-testid="rule-error-message">
        {ruleErrorMessage(error)}
      </p>
      {position !== null && (
        <>
          <pre
            className="rule-marker"
            data-testid="rule-marker"
            aria-label={t('editor.errorAt', { line: position.line, column: position.column })}
          >
            {linesAround(rule, position.line).map((line) => (
              <Fragment key={line.number}>
                <span className={line.number === position.line ? 'rule-line rule-line-error' : 'rule-line'}>
                  <span className="rule-gutter" aria-hidden="true">
                    {line.number}
                  </span>
                  {line.text === '' ? ' ' : line.text}
                </span>
                {line.number === position.line && (
                  <span className="rule-line rule-caret" aria-hidden="true">
                    <span className="rule-gutter" />
                    <span data-testid="rule-caret">{`${caretPadding(line.text, position.column)}^`}</span>
                  </span>
                )}
              </Fragment>
            ))}
          </pre>
          <button type="button" className="link" onClick={() => onGoTo(position)}>
            {t('editor.goToError', { line: position.line, column: position.column })}
          </button>
        </>
      )}
    </div>
  );
}

function SyntaxHelp() {
  const { t } = useTranslation('segments');
  const examples = [
    'trait city = "Paris"',
    'trait age >= 18',
    'trait plan in ["pro", "team"]',
    'count(event "Order Completed" in last 30 days) >= 3',
    'sum(event "Order Completed".revenue in last 90 days) > 200',
    'last(event "Order Completed") within last 60 days',
    'in segment "VIP"',
    'has email',
    'consent email',
  ];
  return (
    <details className="syntax-help">
      <summary>{t('editor.syntaxHelp')}</summary>
      <p className="muted">{t('editor.syntaxIntro')}</p>
      <ul>
        {examples.map((example) => (
          <li key={example}>
            <code>{example}</code>
          </li>
        ))}
      </ul>
    </details>
  );
}
