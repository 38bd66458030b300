import { useId, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { Page } from '../../components/page.tsx';
import type { Role } from '../../session.tsx';

/** What an administrator's screen shows to another role that opens its address. */
export function Forbidden({ title }: { readonly title: string }) {
  const { t } = useTranslation();
  return (
    <Page title={title}>
      <div className="state state-error" role="alert">
        <p>{t('forbidden')}</p>
        <Link to="/">{t('backHome')}</Link>
      </div>
    </Page>
  );
}

/**
 * A labelled control whose label does not wrap it: the name of a select is then its label alone,
 * not the label followed by every option's text.
 */
export function Field({
  label,
  className,
  children,
}: {
  readonly label: string;
  readonly className?: string;
  readonly children: (id: string) => ReactNode;
}) {
  const id = useId();
  return (
    <div className={`admin-field ${className ?? ''}`}>
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}

/** Text that may break before an @ and after a dot or an underscore: addresses and ids in narrow columns. */
export function Breakable({ text }: { readonly text: string }) {
  const parts = text.split(/(?=@)|(?<=[._])/);
  return (
    <>
      {parts.map((part, index) => (
        <span key={index}>
          {index > 0 && <wbr />}
          {part}
        </span>
      ))}
    </>
  );
}

export function RoleBadge({ role }: { readonly role: Role }) {
  const { t } = useTranslation('admin');
  return <span className={`role-badge role-${role}`}>{t(`role.${role}`)}</span>;
}

export { errorText } from '../../api.ts';
