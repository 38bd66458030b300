import { useTranslation } from 'react-i18next';
import { createBrowserRouter, Link } from 'react-router';
import { Layout } from './layout.tsx';

function NotFound() {
  const { t } = useTranslation();
  return (
    <div className="state state-empty">
      <p>{t('notFound')}</p>
      <Link to="/">{t('backHome')}</Link>
    </div>
  );
}

/**
 * Each area of the console is loaded when first opened and owns the addresses under its path
 * (its own <Routes>), so the first download holds only the frame and the sign-in.
 */
export const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      {
        index: true,
        lazy: async () => ({
          Component: (await import('./screens/overview/overview-screen.tsx')).OverviewScreen,
        }),
      },
      {
        path: 'sources/*',
        lazy: async () => ({
          Component: (await import('./screens/sources/sources-screen.tsx')).SourcesScreen,
        }),
      },
      {
        path: 'profiles/*',
        lazy: async () => ({
          Component: (await import('./screens/profiles/profiles-screen.tsx')).ProfilesScreen,
        }),
      },
      {
        path: 'segments/*',
        lazy: async () => ({
          Component: (await import('./screens/segments/segments-screen.tsx')).SegmentsScreen,
        }),
      },
      {
        path: 'imports/*',
        lazy: async () => ({
          Component: (await import('./screens/imports/imports-screen.tsx')).ImportsScreen,
        }),
      },
      {
        path: 'quarantine/*',
        lazy: async () => ({
          Component: (await import('./screens/quarantine/quarantine-screen.tsx')).QuarantineScreen,
        }),
      },
      {
        path: 'users/*',
        lazy: async () => ({ Component: (await import('./screens/admin/users-screen.tsx')).UsersScreen }),
      },
      {
        path: 'audit/*',
        lazy: async () => ({ Component: (await import('./screens/admin/audit-screen.tsx')).AuditScreen }),
      },
      {
        path: 'privacy/*',
        lazy: async () => ({
          Component: (await import('./screens/privacy/privacy-screen.tsx')).PrivacyScreen,
        }),
      },
      { path: '*', Component: NotFound },
    ],
  },
]);
