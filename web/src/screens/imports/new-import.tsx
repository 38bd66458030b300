import { useQueryClient } from '@tanstack/react-query';
import { useId, useState, type ChangeEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { api, ApiError } from '../../api.ts';
import { Page, Section } from '../../components/page.tsx';
import { ErrorState, Loading } from '../../components/states.tsx';
import { sourcesKey, useSources } from '../sources/source-api.ts';
import {
  buildMapping,
  consentPurposes,
  fitChoice,
  guessColumn,
  guessKind,
  identifierTypes,
  missingRoles,
  rolesFor,
  suggestedNames,
  timestampFormats,
  valueTypes,
  type ColumnChoice,
  type FilePreview,
  type ImportKind,
} from './column-mapping.ts';
import type { ImportJob } from './import-api.ts';

/** The start of the file the server reads for the preview: enough for 20 rows of any real file. */
const sampleBytes = 64 * 1024;
const delimiters = [',', ';', '\t', '|'];

function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Choose a file, see its first rows, say what each column becomes, run. */
export function NewImport() {
  const { t } = useTranslation('imports');
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const sources = useSources();
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<FilePreview | null>(null);
  const [previewing, setPreviewing] = useState(false);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const [kind, setKind] = useState<ImportKind>('customers');
  const [choices, setChoices] = useState<Record<string, ColumnChoice>>({});
  const [sourceId, setSourceId] = useState('');
  const [timezone, setTimezone] = useState(browserTimeZone);
  const [phase, setPhase] = useState<'idle' | 'creating' | 'uploading'>('idle');
  const [runError, setRunError] = useState<unknown>(null);

  async function read(chosen: File, delimiter?: string) {
    setPreviewing(true);
    setPreviewError(null);
    setRunError(null);
    try {
      const sample = await chosen.slice(0, sampleBytes).text();
      const answer = await api.post<FilePreview>('/api/imports/preview', {
        fileName: chosen.name,
        sample,
        complete: chosen.size <= sampleBytes,
        ...(delimiter === undefined ? {} : { format: { type: 'csv', delimiter } }),
      });
      const guessedKind = delimiter === undefined ? guessKind(answer.columns) : kind;
      setKind(guessedKind);
      setPreview(answer);
      setChoices(Object.fromEntries(answer.columns.map((name) => [name, guessColumn(name, guessedKind)])));
    } catch (error) {
      setPreview(null);
      setPreviewError(error);
    } finally {
      setPreviewing(false);
    }
  }

  function onFile(event: ChangeEvent<HTMLInputElement>) {
    const chosen = event.target.files?.[0] ?? null;
    setFile(chosen);
    setPreview(null);
    if (chosen !== null) void read(chosen);
  }

  function changeKind(next: ImportKind) {
    setKind(next);
    setChoices((current) =>
      Object.fromEntries(
        Object.entries(current).map(([name, chosen]) => [name, fitChoice(name, chosen, next)]),
      ),
    );
  }

  function choose(name: string, change: Partial<ColumnChoice>) {
    setChoices((current) => {
      const before = current[name] ?? guessColumn(name, kind);
      let next = { ...before, ...change };
      // A new role starts from a sensible target rather than the previous role's.
      if (change.role !== undefined && change.role !== before.role) {
        next = {
          ...next,
          target:
            change.role === 'identifier'
              ? 'email'
              : change.role === 'consent'
                ? 'email'
                : change.role === 'timestamp'
                  ? 'iso'
                  : change.role === 'trait' || change.role === 'property' || change.role === 'product'
                    ? guessColumn(name, kind).role === change.role
                      ? guessColumn(name, kind).target
                      : name
                    : '',
          type: 'string',
          format: '',
        };
      }
      return { ...current, [name]: next };
    });
  }

  async function run() {
    if (file === null || preview === null) return;
    setRunError(null);
    setPhase('creating');
    let job: ImportJob | undefined;
    try {
      job = await api.post<ImportJob>('/api/imports', {
        fileName: file.name,
        mapping: buildMapping({ kind, preview, choices, timezone }),
        ...(sourceId === '' ? {} : { sourceId }),
      });
      setPhase('uploading');
      await api.put<ImportJob>(`/api/imports/${job.id}/file`, file, {
        'content-type': file.type === '' ? 'application/octet-stream' : file.type,
      });
      void queryClient.invalidateQueries({ queryKey: ['imports'] });
      // The default source, "import", is created with the first import that uses it.
      void queryClient.invalidateQueries({ queryKey: sourcesKey });
      void navigate(`../${job.id}`);
    } catch (error) {
      setRunError(error);
      setPhase('idle');
      // An import whose file did not arrive would wait for it forever: it is cancelled.
      if (job !== undefined) await api.post(`/api/imports/${job.id}/cancel`).catch(() => undefined);
    }
  }

  const missing =
    preview === null
      ? []
      : missingRoles(
          kind,
          preview.columns.map((name) => choices[name] ?? guessColumn(name, kind)),
        );

  return (
    <Page
      title={t('new.title')}
      subtitle={t('new.subtitle')}
      actions={
        <Link className="button" to="..">
          {t('back')}
        </Link>
      }
    >
      <Section title={t('new.fileTitle')}>
        <div className="stack">
          <label>
            {t('new.file')}
            <input type="file" accept=".csv,.tsv,.txt,.ndjson,.jsonl,text/csv,text/plain" onChange={onFile} />
          </label>
          <p className="muted">{t('new.fileHelp')}</p>
          {previewing && <Loading label={t('new.reading')} />}
          {previewError !== null && <ErrorState error={previewError} />}
          {preview !== null && file !== null && (
            <div className="row imports-format">
              <p className="muted">
                {t('new.readAs', {
                  format: t(`format.${preview.format.type}`),
                  count: preview.columns.length,
                  size: formatBytes(file.size),
                })}
              </p>
              {preview.format.type === 'csv' && (
                <label>
                  {t('new.delimiter')}
                  <select
                    value={preview.format.delimiter ?? ','}
                    onChange={(event) => void read(file, event.target.value)}
                  >
                    {delimiters.map((delimiter) => (
                      <option key={delimiter} value={delimiter}>
                        {t(`delimiter.${delimiterName(delimiter)}`)}
                      </option>
                    ))}
                  </select>
                </label>
              )}
            </div>
          )}
        </div>
      </Section>
      {preview !== null && file !== null && (
        <>
          <Section title={t('new.whatTitle')}>
            <div className="row">
              <fieldset className="imports-kind">
                <legend>{t('new.kind')}</legend>
                {(['customers', 'transactions'] as const).map((value) => (
                  <label key={value} className="inline">
                    <input
                      type="radio"
                      name="kind"
                      value={value}
                      checked={kind === value}
                      onChange={() => changeKind(value)}
                    />
                    <span>
                      {t(`kind.${value}`)} <span className="muted">— {t(`kindHelp.${value}`)}</span>
                    </span>
                  </label>
                ))}
              </fieldset>
              <label>
                {t('new.source')}
                <select value={sourceId} onChange={(event) => setSourceId(event.target.value)}>
                  <option value="">{t('new.defaultSource')}</option>
                  {(sources.data ?? []).map((source) => (
                    <option key={source.id} value={source.id}>
                      {source.name}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                {t('new.timezone')}
                <input value={timezone} onChange={(event) => setTimezone(event.target.value)} />
              </label>
            </div>
          </Section>
          <Section title={t('new.columnsTitle')}>
            <p className="muted">{t('new.columnsHelp')}</p>
            <div className="table-wrap">
              <table className="imports-columns">
                <caption className="visually-hidden">{t('new.columnsTitle')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('new.column')}</th>
                    <th scope="col">{t('new.examples')}</th>
                    <th scope="col">{t('new.becomes')}</th>
                    <th scope="col">{t('new.target')}</th>
                    <th scope="col">{t('new.readAsType')}</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.columns.map((name, index) => (
                    <ColumnRow
                      key={name}
                      name={name}
                      kind={kind}
                      examples={examplesOf(preview, index)}
                      chosen={choices[name] ?? guessColumn(name, kind)}
                      onChange={(change) => choose(name, change)}
                    />
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
          <Section title={t('new.previewTitle', { count: preview.rows.length })}>
            <PreviewTable preview={preview} choices={choices} kind={kind} />
          </Section>
          <div className="card imports-run">
            {missing.length > 0 && (
              <ul className="imports-missing">
                {missing.map((role) => (
                  <li key={role}>{t(`missing.${role}`)}</li>
                ))}
              </ul>
            )}
            {runError !== null && (
              <div className="state state-error" role="alert">
                <strong>{t('new.runFailed')}</strong>
                <p>{runError instanceof Error ? runError.message : t('new.runFailed')}</p>
                {runError instanceof ApiError && runError.body.hint !== undefined && (
                  <p className="muted">{runError.body.hint}</p>
                )}
              </div>
            )}
            <div className="row">
              <button
                type="button"
                className="primary"
                disabled={phase !== 'idle' || missing.length > 0}
                onClick={() => void run()}
              >
                {phase === 'creating'
                  ? t('new.creating')
                  : phase === 'uploading'
                    ? t('new.uploading')
                    : t('new.run')}
              </button>
              <span className="muted">{t('new.runHelp', { name: file.name })}</span>
            </div>
          </div>
        </>
      )}
    </Page>
  );
}

function delimiterName(delimiter: string): 'comma' | 'semicolon' | 'tab' | 'pipe' {
  return delimiter === ';' ? 'semicolon' : delimiter === '\t' ? 'tab' : delimiter === '|' ? 'pipe' : 'comma';
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 102.4) / 10} KB`;
  return `${Math.round(bytes / (1024 * 104.8576)) / 10} MB`;
}

function examplesOf(preview: FilePreview, index: number): string[] {
  return preview.rows
    .map((row) => row[index] ?? '')
    .filter((cell) => cell !== '')
    .slice(0, 3);
}

function ColumnRow({
  name,
  kind,
  examples,
  chosen,
  onChange,
}: {
  readonly name: string;
  readonly kind: ImportKind;
  readonly examples: readonly string[];
  readonly chosen: ColumnChoice;
  readonly onChange: (change: Partial<ColumnChoice>) => void;
}) {
  const { t } = useTranslation('imports');
  const id = useId();
  const named = chosen.role === 'trait' || chosen.role === 'property' || chosen.role === 'product';
  return (
    <tr className={chosen.role === 'ignore' ? 'imports-ignored' : undefined}>
      <th scope="row">{name}</th>
      <td className="imports-examples">
        {examples.length === 0 ? (
          <span className="muted">{t('new.noExample')}</span>
        ) : (
          examples.map((example, index) => <code key={index}>{example}</code>)
        )}
      </td>
      <td>
        <label className="visually-hidden" htmlFor={`${id}-role`}>
          {t('new.roleOf', { name })}
        </label>
        <select
          id={`${id}-role`}
          value={chosen.role}
          onChange={(event) => onChange({ role: event.target.value as ColumnChoice['role'] })}
        >
          {rolesFor(kind).map((role) => (
            <option key={role} value={role}>
              {t(`role.${role}`)}
            </option>
          ))}
        </select>
      </td>
      <td>
        {chosen.role === 'identifier' || chosen.role === 'consent' ? (
          <>
            <label className="visually-hidden" htmlFor={`${id}-target`}>
              {chosen.role === 'identifier' ? t('new.identifierOf', { name }) : t('new.purposeOf', { name })}
            </label>
            <select
              id={`${id}-target`}
              value={chosen.target}
              onChange={(event) => onChange({ target: event.target.value })}
            >
              {chosen.role === 'identifier'
                ? identifierTypes.map((value) => (
                    <option key={value} value={value}>
                      {t(`identifier.${value}`)}
                    </option>
                  ))
                : consentPurposes.map((value) => (
                    <option key={value} value={value}>
                      {t(`purpose.${value}`)}
                    </option>
                  ))}
            </select>
          </>
        ) : chosen.role === 'timestamp' || named ? (
          <>
            <label className="visually-hidden" htmlFor={`${id}-target`}>
              {chosen.role === 'timestamp' ? t('new.timestampOf', { name }) : t('new.nameOf', { name })}
            </label>
            <input
              id={`${id}-target`}
              value={chosen.target}
              list={`${id}-suggestions`}
              required
              onChange={(event) => onChange({ target: event.target.value })}
            />
            <datalist id={`${id}-suggestions`}>
              {(chosen.role === 'timestamp' ? timestampFormats : suggestedNames[chosen.role as 'trait']).map(
                (value) => (
                  <option key={value} value={value} />
                ),
              )}
            </datalist>
          </>
        ) : chosen.role === 'orderId' ? (
          <span className="muted">{t('new.orderIdHelp')}</span>
        ) : (
          <span className="muted">{t('none', { ns: 'common' })}</span>
        )}
      </td>
      <td>
        {named ? (
          <div className="imports-type">
            <label className="visually-hidden" htmlFor={`${id}-type`}>
              {t('new.typeOf', { name })}
            </label>
            <select
              id={`${id}-type`}
              value={chosen.type}
              onChange={(event) => onChange({ type: event.target.value as ColumnChoice['type'] })}
            >
              {valueTypes.map((type) => (
                <option key={type} value={type}>
                  {t(`type.${type}`)}
                </option>
              ))}
            </select>
            {chosen.type === 'date' && (
              <>
                <label className="visually-hidden" htmlFor={`${id}-format`}>
                  {t('new.formatOf', { name })}
                </label>
                <input
                  id={`${id}-format`}
                  value={chosen.format}
                  placeholder="DD/MM/YYYY"
                  list={`${id}-formats`}
                  onChange={(event) => onChange({ format: event.target.value })}
                />
                <datalist id={`${id}-formats`}>
                  {timestampFormats.slice(3).map((value) => (
                    <option key={value} value={value} />
                  ))}
                </datalist>
              </>
            )}
          </div>
        ) : (
          <span className="muted">{t('none', { ns: 'common' })}</span>
        )}
      </td>
    </tr>
  );
}

function PreviewTable({
  preview,
  choices,
  kind,
}: {
  readonly preview: FilePreview;
  readonly choices: Readonly<Record<string, ColumnChoice>>;
  readonly kind: ImportKind;
}) {
  const { t } = useTranslation('imports');
  return (
    <div className="table-wrap imports-preview">
      <table>
        <caption className="visually-hidden">{t('new.previewCaption')}</caption>
        <thead>
          <tr>
            {preview.columns.map((name) => {
              const chosen = choices[name] ?? guessColumn(name, kind);
              return (
                <th
                  key={name}
                  scope="col"
                  className={chosen.role === 'ignore' ? 'imports-ignored' : undefined}
                >
                  <span className="imports-preview-name">{name}</span>
                  <span className="imports-preview-role">{describe(chosen, t)}</span>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {preview.rows.map((row, index) => (
            <tr key={index}>
              {preview.columns.map((name, column) => (
                <td
                  key={name}
                  className={(choices[name]?.role ?? '') === 'ignore' ? 'imports-ignored' : undefined}
                >
                  {row[column] ?? ''}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type Translate = ReturnType<typeof useTranslation<'imports'>>['t'];

/** "→ identifier: E-mail address", the column's role in a few words. */
function describe(chosen: ColumnChoice, t: Translate): string {
  switch (chosen.role) {
    case 'ignore':
      return t('role.ignore');
    case 'identifier':
      return `${t('role.identifier')} · ${t(`identifier.${chosen.target as (typeof identifierTypes)[number]}`, { defaultValue: chosen.target })}`;
    case 'consent':
      return `${t('role.consent')} · ${t(`purpose.${chosen.target as (typeof consentPurposes)[number]}`, { defaultValue: chosen.target })}`;
    case 'orderId':
      return t('role.orderId');
    default:
      return `${t(`role.${chosen.role}`)} · ${chosen.target}`;
  }
}
