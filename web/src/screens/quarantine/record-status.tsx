import { useTranslation } from 'react-i18next';
import type { QuarantineRecord } from './quarantine-api.ts';

export function RecordStatus({ record }: { readonly record: Pick<QuarantineRecord, 'status'> }) {
  const { t } = useTranslation('quarantine');
  return record.status === 'replayed' ? (
    <span className="badge ok">{t('status.replayed')}</span>
  ) : (
    <span className="badge warn">{t('status.pending')}</span>
  );
}
