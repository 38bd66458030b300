import { useTranslation } from 'react-i18next';
import { Page } from '../../components/page.tsx';
import { EmptyState } from '../../components/states.tsx';

export function SourcesScreen() {
  const { t } = useTranslation('sources');
  return (
    <Page title={t('title')}>
      <EmptyState />
    </Page>
  );
}
