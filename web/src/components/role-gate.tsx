import type { ReactNode } from 'react';
import { Page } from './page.tsx';
import { EmptyState } from './states.tsx';

/**
 * A screen some roles may not open: for them its title and why, and no request the server would
 * refuse (each refusal would be an audit entry).
 */
export function RoleGate({
  allowed,
  title,
  message,
  children,
}: {
  readonly allowed: boolean;
  readonly title: string;
  readonly message: string;
  readonly children: ReactNode;
}) {
  if (allowed) return <>{children}</>;
  return (
    <Page title={title}>
      <EmptyState>{message}</EmptyState>
    </Page>
  );
}
