import { Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { NavLink, Outlet } from 'react-router';
import { LanguageSwitch } from './components/language-switch.tsx';
import { Loading } from './components/states.tsx';
import { useSession } from './session.tsx';

const links = [
  { to: '/', key: 'nav.overview', end: true },
  { to: '/sources', key: 'nav.sources', write: true },
  { to: '/profiles', key: 'nav.profiles' },
  { to: '/segments', key: 'nav.segments' },
  { to: '/imports', key: 'nav.imports', write: true },
  { to: '/quarantine', key: 'nav.quarantine', write: true },
  { to: '/users', key: 'nav.users', admin: true },
  { to: '/audit', key: 'nav.audit', admin: true },
  { to: '/privacy', key: 'nav.privacy', admin: true },
] as const;

/** The frame of every screen: navigation, language, who is signed in. */
export function Layout() {
  const { t } = useTranslation();
  const { session, permissions, signOut } = useSession();
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        {t('skipToContent')}
      </a>
      <header className="topbar">
        <span className="brand">{t('appName')}</span>
        <div className="topbar-end">
          <LanguageSwitch />
          <span className="who" data-testid="who">
            {t('signedInAs', { name: session.actor.name })}
            <span className={`role-badge role-${session.actor.role}`}>{t(`role.${session.actor.role}`)}</span>
          </span>
          <button type="button" onClick={() => void signOut()}>
            {t('signOut')}
          </button>
        </div>
      </header>
      <nav className="sidebar" aria-label={t('mainNavigation')}>
        <ul>
          {links
            // Screens of raw events and files, which hold personal data as sent, are not for analysts.
            .filter(
              (link) =>
                (!('admin' in link) || permissions.admin) && (!('write' in link) || permissions.write),
            )
            .map((link) => (
              <li key={link.to}>
                <NavLink to={link.to} end={'end' in link}>
                  {t(link.key)}
                </NavLink>
              </li>
            ))}
        </ul>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
