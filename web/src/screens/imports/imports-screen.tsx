import { useTranslation } from 'react-i18next';
import { Page } from '../../components/page.tsx';
import { EmptyState } from '../../components/states.tsx';

export function ImportsScreen() {
  const { t } = useTranslation('imports');
  return (
    <Page title={t('title')}>
      <EmptyState />
    </Page>
  );
}
