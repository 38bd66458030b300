import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { ApiError } from '../api.ts';

export function Loading({ label }: { readonly label?: string }) {
  const { t } = useTranslation();
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label ?? t('loading')}
    </div>
  );
}

export function FullPageLoading() {
  return (
    <main className="full-page">
      <Loading />
    </main>
  );
}

export function EmptyState({ children }: { readonly children?: ReactNode }) {
  const { t } = useTranslation();
  return <div className="state state-empty">{children ?? t('empty')}</div>;
}

/** What went wrong, from the API's message and hint, with a retry. */
export function ErrorState({ error, onRetry }: { readonly error: unknown; readonly onRetry?: () => void }) {
  const { t } = useTranslation();
  const forbidden = error instanceof ApiError && error.status === 403;
  const message = forbidden ? t('forbidden') : error instanceof Error ? error.message : String(error);
  const hint = error instanceof ApiError && !forbidden ? error.body.hint : undefined;
  return (
    <div className="state state-error" role="alert">
      <strong>{t('errorTitle')}</strong>
      <p>{message}</p>
      {hint !== undefined && <p className="muted">{hint}</p>}
      {onRetry !== undefined && !forbidden && (
        <button type="button" onClick={onRetry}>
          {t('retry')}
        </button>
      )}
    </div>
  );
}

/**
 * A detail screen whose record could not be read: "not found" with a way back when the API says
 * it does not exist (404, or 400 for an id that cannot be one), the error with a retry otherwise.
 */
export function DetailFailure({
  error,
  notFound,
  back,
  onRetry,
}: {
  readonly error: unknown;
  readonly notFound: string;
  readonly back: string;
  readonly onRetry: () => void;
}) {
  const missing = error instanceof ApiError && (error.status === 404 || error.status === 400);
  return missing ? (
    <EmptyState>
      <p>{notFound}</p>
      <Link to="..">{back}</Link>
    </EmptyState>
  ) : (
    <ErrorState error={error} onRetry={onRetry} />
  );
}

/** The loading, error and empty states of one query, then its data. */
export function QueryView<T>({
  query,
  isEmpty,
  empty,
  children,
}: {
  readonly query: UseQueryResult<T>;
  readonly isEmpty?: (data: T) => boolean;
  readonly empty?: ReactNode;
  readonly children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading />;
  if (query.isError) return <ErrorState error={query.error} onRetry={() => void query.refetch()} />;
  if (isEmpty?.(query.data) === true) return <EmptyState>{empty}</EmptyState>;
  return <>{children(query.data)}</>;
}
