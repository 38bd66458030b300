import { useState } from 'react';
import { useTranslation } from 'react-i18next';

/**
 * The pages of a list the API pages by cursor: the cursors of the pages seen, so Previous goes back
 * without the API going backwards. `cursor` is the one to ask with (null on the first page).
 */
export function useCursorPages() {
  const [cursors, setCursors] = useState<readonly number[]>([]);
  return {
    cursor: cursors.at(-1) ?? null,
    page: cursors.length + 1,
    hasPrevious: cursors.length > 0,
    next: (nextCursor: number) => setCursors((seen) => [...seen, nextCursor]),
    previous: () => setCursors((seen) => seen.slice(0, -1)),
    reset: () => setCursors([]),
  };
}

/** Previous and Next under a paged list; nothing when the list fits on one page. */
export function Pager({
  label,
  pages,
  nextCursor,
}: {
  /** What is paged, for screen readers: "Pages of members". */
  readonly label: string;
  readonly pages: ReturnType<typeof useCursorPages>;
  readonly nextCursor: number | null;
}) {
  const { t } = useTranslation();
  if (!pages.hasPrevious && nextCursor === null) return null;
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" disabled={!pages.hasPrevious} onClick={pages.previous}>
        {t('previous')}
      </button>
      <span className="muted">{t('page', { page: pages.page })}</span>
      <button
        type="button"
        disabled={nextCursor === null}
        onClick={() => {
          if (nextCursor !== null) pages.next(nextCursor);
        }}
      >
        {t('next')}
      </button>
    </nav>
  );
}
