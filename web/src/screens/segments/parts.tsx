import { useId, type ReactNode } from 'react';
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
