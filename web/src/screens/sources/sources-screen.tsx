import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Route, Routes, useLocation, useNavigate, useParams, useSearchParams } from 'react-router';
import { api, errorText } from '../../api.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { formatDate, formatDateTime } from '../../components/format.ts';
import { RoleGate } from '../../components/role-gate.tsx';
import { Page, Section } from '../../components/page.tsx';
import { EmptyState, QueryView } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { CopyButton } from '../../components/copy-button.tsx';
import { LiveDebugger } from './live-debugger.tsx';
import { snippetsFor } from './snippets.ts';
import { sourcesKey, useSources, type Source } from './source-api.ts';
import './sources.css';

export function SourcesScreen() {
  const { t } = useTranslation('sources');
  const { permissions } = useSession();
  // Sources and raw events are open to administrators and marketers only: no request that would be refused.
  return (
    <RoleGate allowed={permissions.write} title={t('title')} message={t('forbiddenRole')}>
      <Routes>
        <Route index element={<SourceList />} />
        <Route path="events" element={<EventsPage />} />
        <Route path=":id" element={<SourceDetail />} />
      </Routes>
    </RoleGate>
  );
}

function SourceList() {
  const { t } = useTranslation('sources');
  const { permissions } = useSession();
  const navigate = useNavigate();
  const query = useSources();
  const columns: Column<Source>[] = [
    { key: 'name', header: t('list.name'), cell: (source) => <strong>{source.name}</strong> },
    { key: 'id', header: t('list.id'), cell: (source) => <code>{source.id}</code> },
    { key: 'key', header: t('list.writeKey'), cell: (source) => <KeyStatus source={source} /> },
    { key: 'created', header: t('list.created'), cell: (source) => formatDate(source.createdAt) },
  ];
  return (
    <Page
      title={t('title')}
      subtitle={t('subtitle')}
      actions={
        <Link className="button" to="events">
          {t('liveEvents')}
        </Link>
      }
    >
      {permissions.admin && <CreateSource />}
      <Section title={t('list.title')}>
        <QueryView query={query} isEmpty={(sources) => sources.length === 0} empty={t('list.empty')}>
          {(sources) => (
            <DataTable
              caption={t('list.title')}
              columns={columns}
              rows={[...sources].sort((a, b) => b.createdAt.localeCompare(a.createdAt))}
              rowKey={(source) => source.id}
              rowLabel={(source) => t('list.open', { name: source.name })}
              onRowClick={(source) => void navigate(source.id)}
            />
          )}
        </QueryView>
      </Section>
    </Page>
  );
}

function KeyStatus({ source }: { readonly source: Source }) {
  const { t } = useTranslation('sources');
  return source.revokedAt === null ? (
    <span className="badge ok">{t('key.active')}</span>
  ) : (
    <span className="badge danger">{t('key.revoked')}</span>
  );
}

function CreateSource() {
  const { t } = useTranslation('sources');
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const create = useMutation({
    mutationFn: (sourceName: string) => api.post<Source>('/api/sources', { name: sourceName }),
    onSuccess: (source) => {
      queryClient.setQueryData<Source[]>(sourcesKey, (old) => [...(old ?? []), source]);
      void navigate(source.id, { state: { created: true } });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (name.trim() !== '') create.mutate(name.trim());
  }
  return (
    <Section title={t('create.title')}>
      <form className="row" onSubmit={submit}>
        <label className="sources-grow">
          {t('create.name')}
          <input
            required
            maxLength={200}
            value={name}
            placeholder={t('create.placeholder')}
            onChange={(event) => setName(event.target.value)}
          />
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? t('create.submitting') : t('create.submit')}
        </button>
      </form>
      {create.isError && (
        <p role="alert" className="error-text">
          {errorText(create.error)}
        </p>
      )}
    </Section>
  );
}

function SourceDetail() {
  const { t } = useTranslation('sources');
  const { id } = useParams();
  const query = useSources();
  return (
    <QueryView query={query}>
      {(sources) => {
        const source = sources.find((candidate) => candidate.id === id);
        if (source === undefined) {
          return (
            <Page title={t('title')}>
              <EmptyState>
                <p>{t('detail.notFound', { id })}</p>
                <Link to="..">{t('back')}</Link>
              </EmptyState>
            </Page>
          );
        }
        return <SourceView source={source} sources={sources} />;
      }}
    </QueryView>
  );
}

function SourceView({ source, sources }: { readonly source: Source; readonly sources: readonly Source[] }) {
  const { t } = useTranslation('sources');
  const location = useLocation();
  const created = (location.state as { created?: boolean } | null)?.created === true;
  return (
    <Page
      title={source.name}
      subtitle={t('detail.subtitle', { id: source.id, date: formatDateTime(source.createdAt) })}
      actions={
        <Link className="button" to="..">
          {t('back')}
        </Link>
      }
    >
      {created && (
        <p className="sources-notice sources-notice-ok" role="status">
          {t('detail.created')}
        </p>
      )}
      <WriteKey source={source} />
      <SnippetsSection source={source} />
      <Section title={t('debugger.title')}>
        <LiveDebugger key={source.id} sources={sources} initialSourceId={source.id} />
      </Section>
    </Page>
  );
}

function WriteKey({ source }: { readonly source: Source }) {
  const { t } = useTranslation('sources');
  const { permissions } = useSession();
  const queryClient = useQueryClient();
  const keyRef = useRef<HTMLElement>(null);
  const [asking, setAsking] = useState<'rotate' | 'revoke' | null>(null);
  const [changed, setChanged] = useState<'rotate' | 'revoke' | null>(null);
  const change = useMutation({
    mutationFn: (action: 'rotate' | 'revoke') =>
      action === 'rotate'
        ? api.post<Source>(`/api/sources/${source.id}/write-key`)
        : api.delete<Source>(`/api/sources/${source.id}/write-key`),
    onSuccess: (updated, action) => {
      queryClient.setQueryData<Source[]>(sourcesKey, (old) =>
        (old ?? []).map((candidate) => (candidate.id === updated.id ? updated : candidate)),
      );
      setChanged(action);
      setAsking(null);
    },
  });
  const revoked = source.revokedAt !== null;
  return (
    <Section title={t('key.title')} actions={<KeyStatus source={source} />}>
      <div className="stack">
        <div className="sources-key-row">
          <code ref={keyRef} className="sources-write-key" data-testid="write-key">
            {source.writeKey}
          </code>
          <CopyButton text={source.writeKey} target={keyRef} what={t('key.what')} />
        </div>
        {revoked ? (
          <p className="sources-notice sources-notice-danger">
            {t('key.revokedNote', { date: formatDateTime(source.revokedAt) })}
          </p>
        ) : (
          <p className="muted">{t('key.help')}</p>
        )}
        {changed !== null && (
          <p className="sources-notice sources-notice-ok" role="status">
            {changed === 'rotate' ? t('key.rotated') : t('key.revokedDone')}
          </p>
        )}
        {change.isError && (
          <p role="alert" className="error-text">
            {errorText(change.error)}
          </p>
        )}
        {permissions.admin ? (
          <div className="row">
            <button type="button" onClick={() => setAsking('rotate')}>
              {revoked ? t('key.newKey') : t('key.rotate')}
            </button>
            {!revoked && (
              <button type="button" className="danger" onClick={() => setAsking('revoke')}>
                {t('key.revoke')}
              </button>
            )}
          </div>
        ) : (
          <p className="muted">{t('key.adminOnly')}</p>
        )}
      </div>
      <ConfirmDialog
        open={asking !== null}
        title={asking === 'revoke' ? t('key.revokeTitle') : t('key.rotateTitle')}
        confirmLabel={asking === 'revoke' ? t('key.revoke') : t('key.rotate')}
        danger={asking === 'revoke'}
        pending={change.isPending}
        onConfirm={() => asking !== null && change.mutate(asking)}
        onCancel={() => setAsking(null)}
      >
        <p>{asking === 'revoke' ? t('key.revokeText') : t('key.rotateText')}</p>
      </ConfirmDialog>
    </Section>
  );
}

function SnippetsSection({ source }: { readonly source: Source }) {
  const { t } = useTranslation('sources');
  const snippets = snippetsFor(source.writeKey, window.location.origin);
  return (
    <Section title={t('snippets.title')}>
      <p className="muted">{t('snippets.intro', { origin: window.location.origin })}</p>
      <div className="sources-snippets">
        <Snippet
          id="browser"
          title={t('snippets.browser')}
          help={t('snippets.browserHelp')}
          code={snippets.browser}
        />
        <Snippet id="node" title={t('snippets.node')} help={t('snippets.nodeHelp')} code={snippets.node} />
        <Snippet id="curl" title={t('snippets.curl')} help={t('snippets.curlHelp')} code={snippets.curl} />
      </div>
    </Section>
  );
}

function Snippet({
  id,
  title,
  help,
  code,
}: {
  readonly id: string;
  readonly title: string;
  readonly help: string;
  readonly code: string;
}) {
  const ref = useRef<HTMLPreElement>(null);
  return (
    <div className="sources-snippet">
      <div className="sources-snippet-header">
        <h3 id={`snippet-${id}`}>{title}</h3>
        <CopyButton text={code} target={ref} what={title} />
      </div>
      <p className="muted">{help}</p>
      <pre ref={ref} aria-labelledby={`snippet-${id}`} data-testid={`snippet-${id}`} tabIndex={0}>
        {code}
      </pre>
    </div>
  );
}

function EventsPage() {
  const { t } = useTranslation('sources');
  const [params] = useSearchParams();
  const query = useSources();
  return (
    <Page
      title={t('events.title')}
      subtitle={t('events.subtitle')}
      actions={
        <Link className="button" to="..">
          {t('back')}
        </Link>
      }
    >
      <Section title={t('debugger.caption')}>
        <QueryView query={query}>
          {(sources) => <LiveDebugger sources={sources} initialSourceId={params.get('sourceId') ?? ''} />}
        </QueryView>
      </Section>
    </Page>
  );
}
