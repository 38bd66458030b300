import { useId, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, NavLink } from 'react-router';
import { profileLabel, type ProfileCard } from './segments-api.ts';

/** The two views of the area: the saved segments and the RFM grid. */
export function SegmentTabs() {
  const { t } = useTranslation('segments');
  return (
    <nav className="segments-tabs" aria-label={t('tabs.label')}>
      <NavLink to="/segments" end>
        {t('tabs.list')}
      </NavLink>
      <NavLink to="/segments/rfm">{t('tabs.rfm')}</NavLink>
    </nav>
  );
}

/** A link to a profile's page, named as the tables name people. */
export function ProfileLink({ card }: { readonly card: ProfileCard }) {
  return <Link to={`/profiles/${card.id}`}>{profileLabel(card)}</Link>;
}

/** Previous and next for cursor pages: the cursors of the pages seen so far make "previous" work. */
export function useCursorPages() {
  const [cursors, setCursors] = useState<(number | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  return {
    cursor,
    page: cursors.length,
    hasPrevious: cursors.length > 1,
    next: (nextCursor: number) => setCursors((seen) => [...seen, nextCursor]),
    previous: () => setCursors((seen) => (seen.length > 1 ? seen.slice(0, -1) : seen)),
    reset: () => setCursors([null]),
  };
}

export function Pager({
  label,
  page,
  hasPrevious,
  nextCursor,
  onPrevious,
  onNext,
}: {
  readonly label: string;
  readonly page: number;
  readonly hasPrevious: boolean;
  readonly nextCursor: number | null;
  readonly onPrevious: () => void;
  readonly onNext: (cursor: number) => void;
}) {
  const { t } = useTranslation('segments');
  if (!hasPrevious && nextCursor === null) return null;
  return (
    <nav className="segments-pager" aria-label={label}>
      <button type="button" disabled={!hasPrevious} onClick={onPrevious}>
        {t('previous', { ns: 'common' })}
      </button>
      <span className="muted">{t('page', { page })}</span>
      <button
        type="button"
        disabled={nextCursor === null}
        onClick={() => {
          if (nextCursor !== null) onNext(nextCursor);
        }}
      >
        {t('next', { ns: 'common' })}
      </button>
    </nav>
  );
}

/** A share as a thin bar, for tables of shares; the number beside it is what is read out. */
export function ShareBar({ share, tone }: { readonly share: number; readonly tone?: 'base' }) {
  const width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  return (
    <span className={`share-bar ${tone === 'base' ? 'share-bar-base' : ''}`} aria-hidden="true">
      <span style={{ width }} />
    </span>
  );
}

/**
 * A label above its control, tied by id rather than by wrapping: a wrapping label would make a
 * select's or textarea's accessible name include the value chosen or typed.
 */
export function Field({
  label,
  className,
  children,
}: {
  readonly label: ReactNode;
  readonly className?: string;
  readonly children: (id: string) => ReactNode;
}) {
  const id = useId();
  return (
    <div className={`field ${className ?? ''}`}>
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}
