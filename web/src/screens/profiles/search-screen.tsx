import { useInfiniteQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useLocation, useNavigate } from 'react-router';
import { api, ApiError } from '../../api.ts';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { formatDateTime, formatNumber, formatRelative } from '../../components/format.ts';
import { Page } from '../../components/page.tsx';
import { EmptyState, ErrorState, Loading } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { personName, traitText, type ProfileCard, type SearchPage } from './profile-types.ts';
import { parseSearchText, type SearchRequest } from './search-text.ts';

/**
 * What the search page keeps in the history entry (not in the address: the text may be an e-mail
 * address, which has no place in URLs, logs or the browser's history list).
 */
export interface SearchLocationState {
  readonly search?: string;
  readonly erased?: number;
}

const pageSize = 25;

/**
 * The last search, for the way back from a profile. Kept in the query cache, which signing out
 * empties, so the next person at the screen does not see it.
 */
const lastSearchKey = ['profiles', 'last-search'] as const;

export function SearchScreen() {
  const { t } = useTranslation('profiles');
  const { permissions } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const state = (location.state ?? {}) as SearchLocationState;
  const submitted = state.search ?? queryClient.getQueryData<string>(lastSearchKey) ?? '';
  const [text, setText] = useState(submitted);
  const request = parseSearchText(submitted);

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    const parsed = parseSearchText(text);
    queryClient.setQueryData(lastSearchKey, text);
    if (parsed.kind === 'open') {
      void navigate(`/profiles/${parsed.id}`);
      return;
    }
    void navigate('/profiles', { replace: true, state: { search: text } satisfies SearchLocationState });
  }

  return (
    <Page title={t('title')} subtitle={t('subtitle')}>
      {state.erased !== undefined && (
        <div className="profiles-notice" role="status">
          <span>{t('erasedNotice', { id: state.erased })}</span>
          <button
            type="button"
            className="link"
            onClick={() => void navigate('/profiles', { replace: true, state: { search: submitted } })}
          >
            {t('close', { ns: 'common' })}
          </button>
        </div>
      )}
      <section className="card" aria-label={t('searchTitle')}>
        <form className="profiles-search" role="search" onSubmit={onSubmit}>
          <label htmlFor="profile-search">{t('searchLabel')}</label>
          <div className="profiles-search-row">
            <input
              id="profile-search"
              type="search"
              value={text}
              onChange={(event) => setText(event.target.value)}
              placeholder={permissions.personalData ? t('searchPlaceholder') : t('searchPlaceholderAnalyst')}
              aria-describedby="profile-search-help"
              autoComplete="off"
              spellCheck={false}
            />
            <button type="submit" className="primary">
              {t('search', { ns: 'common' })}
            </button>
          </div>
          <p id="profile-search-help" className="muted profiles-search-help">
            {permissions.personalData ? t('searchHelp') : t('searchHelpAnalyst')}
          </p>
        </form>
      </section>
      <SearchResults request={request} />
    </Page>
  );
}

function SearchResults({ request }: { readonly request: SearchRequest }) {
  const { t } = useTranslation('profiles');
  const { permissions } = useSession();
  const navigate = useNavigate();
  const query = request.kind === 'search' ? request.query : undefined;
  // Analysts see pseudonyms: the server refuses them a look-up by identifier or name.
  const refused = request.kind === 'search' && request.personal && !permissions.personalData;
  const results = useInfiniteQuery({
    queryKey: ['profiles', 'search', query],
    queryFn: ({ pageParam }) =>
      api.get<SearchPage>('/api/profiles', { ...query, limit: pageSize, cursor: pageParam }),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: query !== undefined && !refused,
  });

  if (request.kind === 'empty') return <EmptyState>{t('searchEmpty')}</EmptyState>;
  if (request.kind === 'invalid') {
    return (
      <p className="error-text" role="alert">
        {request.reason === 'twoIdentifiers'
          ? t('searchTwoIdentifiers')
          : t('searchEmptyValue', { name: request.name ?? '' })}
      </p>
    );
  }
  if (refused) {
    return (
      <p className="error-text" role="alert">
        {t('searchRefusedAnalyst')}
      </p>
    );
  }
  if (results.isPending) return <Loading />;
  if (results.isError) {
    if (results.error instanceof ApiError && results.error.status === 403) {
      return (
        <p className="error-text" role="alert">
          {t('searchRefusedAnalyst')}
        </p>
      );
    }
    return <ErrorState error={results.error} onRetry={() => void results.refetch()} />;
  }
  const rows = results.data.pages.flatMap((page) => page.profiles);
  if (rows.length === 0) return <EmptyState>{t('searchNoResults')}</EmptyState>;

  const email = (card: ProfileCard) =>
    traitText(card.traits.email) || card.identifiers.find((identifier) => identifier.type === 'email')?.value;
  const city = (card: ProfileCard) => {
    const address = card.traits.address;
    const inAddress =
      typeof address === 'object' && address !== null ? (address as Record<string, unknown>).city : undefined;
    return traitText(card.traits.city ?? inAddress);
  };
  const columns: Column<ProfileCard>[] = [
    { key: 'id', header: t('columnProfile'), cell: (card) => <span className="muted">#{card.id}</span> },
    {
      key: 'name',
      header: t('columnName'),
      cell: (card) => (
        <strong>{personName(card.traits) ?? <span className="muted">{t('unnamed')}</span>}</strong>
      ),
    },
    {
      key: 'email',
      header: t('columnEmail'),
      cell: (card) => <span className="profiles-break">{email(card) ?? '—'}</span>,
    },
    { key: 'city', header: t('columnCity'), cell: (card) => city(card) || '—' },
    {
      key: 'lastSeen',
      header: t('columnLastSeen'),
      cell: (card) => <time title={formatDateTime(card.lastSeen)}>{formatRelative(card.lastSeen)}</time>,
    },
    { key: 'events', header: t('columnEvents'), numeric: true, cell: (card) => formatNumber(card.events) },
  ];

  return (
    <section className="card" aria-label={t('resultsTitle')}>
      <header className="card-header">
        <h2>{t('resultsTitle')}</h2>
        <span className="muted">
          {results.hasNextPage
            ? t('resultsShownMore', { count: rows.length })
            : t('resultsShown', { count: rows.length })}
        </span>
      </header>
      {!permissions.personalData && <p className="muted">{t('pseudonymised', { ns: 'common' })}</p>}
      <DataTable
        caption={t('resultsTitle')}
        columns={columns}
        rows={rows}
        rowKey={(card) => String(card.id)}
        onRowClick={(card) => void navigate(`/profiles/${card.id}`)}
        rowLabel={(card) => t('openProfile', { id: card.id })}
      />
      {results.hasNextPage && (
        <div className="profiles-more">
          <button
            type="button"
            disabled={results.isFetchingNextPage}
            onClick={() => void results.fetchNextPage()}
          >
            {results.isFetchingNextPage ? t('loading', { ns: 'common' }) : t('loadMore')}
          </button>
        </div>
      )}
    </section>
  );
}
