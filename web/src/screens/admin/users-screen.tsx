import { useMutation, useQueries, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../../api.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { formatDate, formatDateTime, formatRelative } from '../../components/format.ts';
import { Page, Section } from '../../components/page.tsx';
import { QueryView } from '../../components/states.tsx';
import { useSession, type Role } from '../../session.tsx';
import {
  bootstrapId,
  roleList,
  tokensKey,
  usersKey,
  useTokens,
  useUsers,
  type AuditEntry,
  type Token,
  type User,
} from './admin-api.ts';
import { CopyButton } from '../../components/copy-button.tsx';
import { Breakable, errorText, Field, Forbidden, RoleBadge } from './admin-parts.tsx';
import './admin.css';

export function UsersScreen() {
  const { t } = useTranslation('admin');
  const { permissions } = useSession();
  // Users and tokens are the administrators' alone: no request that would be refused.
  if (!permissions.admin) return <Forbidden title={t('users.title')} />;
  return (
    <Page title={t('users.title')} subtitle={t('users.subtitle')}>
      <CreateUser />
      <UserList />
      <CreateToken />
      <TokenList />
    </Page>
  );
}

function RoleSelect({
  id,
  value,
  onChange,
  label,
  disabled,
}: {
  readonly id?: string;
  readonly value: Role;
  readonly onChange: (role: Role) => void;
  readonly label?: string;
  readonly disabled?: boolean;
}) {
  const { t } = useTranslation('admin');
  return (
    <select
      id={id}
      value={value}
      aria-label={label}
      disabled={disabled}
      onChange={(event) => onChange(event.target.value as Role)}
    >
      {roleList.map((role) => (
        <option key={role} value={role}>
          {t(`role.${role}`)}
        </option>
      ))}
    </select>
  );
}

function CreateUser() {
  const { t } = useTranslation('admin');
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('marketer');
  const create = useMutation({
    mutationFn: () => api.post<User>('/api/users', { email: email.trim(), password, role }),
    onSuccess: (user) => {
      queryClient.setQueryData<User[]>(usersKey, (old) => [...(old ?? []), user]);
      setEmail('');
      setPassword('');
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  return (
    <Section title={t('createUser.title')}>
      <form className="admin-form" onSubmit={submit}>
        <label className="admin-grow">
          {t('createUser.email')}
          <input
            type="email"
            required
            maxLength={320}
            autoComplete="off"
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        </label>
        <label className="admin-grow">
          {t('createUser.password')}
          <input
            type="password"
            required
            minLength={12}
            maxLength={200}
            autoComplete="new-password"
            aria-describedby="admin-password-hint"
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </label>
        <Field label={t('role.label')}>
          {(id) => <RoleSelect id={id} value={role} onChange={setRole} />}
        </Field>
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? t('createUser.submitting') : t('createUser.submit')}
        </button>
      </form>
      <p id="admin-password-hint" className="muted admin-help">
        {t('createUser.passwordHint')} {t('role.help')}
      </p>
      {create.isError && (
        <p role="alert" className="error-text">
          {errorText(create.error)}
        </p>
      )}
      {create.isSuccess && (
        <p role="status" className="admin-notice">
          {t('createUser.done', { email: create.data.email, role: t(`role.${create.data.role}`) })}
        </p>
      )}
    </Section>
  );
}

type UserChange =
  | { readonly kind: 'role'; readonly user: User; readonly role: Role }
  | { readonly kind: 'disable' | 'enable' | 'delete'; readonly user: User };

/** The time of each user's last sign-in, from the audit log (one small query per user). */
function useLastSignIns(users: readonly User[] | undefined): ReadonlyMap<string, string | null> {
  const results = useQueries({
    queries: (users ?? []).map((user) => ({
      queryKey: ['admin', 'lastSignIn', user.id],
      queryFn: async () => {
        const { entries } = await api.get<{ entries: AuditEntry[] }>('/api/audit', {
          action: 'session.login',
          targetId: user.id,
          limit: 1,
        });
        return entries[0]?.at ?? null;
      },
      staleTime: 30_000,
    })),
  });
  return new Map(
    (users ?? []).flatMap((user, index) => {
      const result = results[index];
      return result?.data === undefined ? [] : [[user.id, result.data] as const];
    }),
  );
}

/** `now`: when the list was read, the time a lock is judged at. */
function UserStatus({ user, now }: { readonly user: User; readonly now: number }) {
  const { t } = useTranslation('admin');
  if (user.disabledAt !== null) return <span className="badge danger">{t('status.disabled')}</span>;
  if (user.lockedUntil !== null && Date.parse(user.lockedUntil) > now) {
    return (
      <span className="badge warn">{t('status.locked', { time: formatDateTime(user.lockedUntil) })}</span>
    );
  }
  return <span className="badge ok">{t('status.active')}</span>;
}

function UserList() {
  const { t } = useTranslation('admin');
  const { session } = useSession();
  const queryClient = useQueryClient();
  const query = useUsers();
  const lastSignIns = useLastSignIns(query.data);
  const [asking, setAsking] = useState<UserChange | null>(null);
  const change = useMutation({
    mutationFn: async (pending: UserChange) => {
      const path = `/api/users/${encodeURIComponent(pending.user.id)}`;
      if (pending.kind === 'delete') return api.delete<undefined>(path);
      return api.patch<User>(
        path,
        pending.kind === 'role' ? { role: pending.role } : { disabled: pending.kind === 'disable' },
      );
    },
    onSuccess: () => {
      setAsking(null);
      void queryClient.invalidateQueries({ queryKey: usersKey });
    },
  });
  const self = (user: User) => user.id === session.actor.id;

  const columns: Column<User>[] = [
    {
      key: 'email',
      header: t('userList.email'),
      cell: (user) => (
        <span className="admin-email">
          <strong>
            <Breakable text={user.email} />
          </strong>
          {self(user) && <span className="badge">{t('userList.you')}</span>}
        </span>
      ),
    },
    {
      key: 'role',
      header: t('userList.role'),
      cell: (user) =>
        self(user) ? (
          <RoleBadge role={user.role} />
        ) : (
          <RoleSelect
            value={user.role}
            label={t('userList.roleOf', { email: user.email })}
            onChange={(role) => {
              change.reset();
              setAsking({ kind: 'role', user, role });
            }}
          />
        ),
    },
    {
      key: 'created',
      header: t('userList.created'),
      cell: (user) => <span className="admin-nowrap">{formatDate(user.createdAt)}</span>,
    },
    {
      key: 'lastSignIn',
      header: t('userList.lastSignIn'),
      cell: (user) => {
        const at = lastSignIns.get(user.id);
        if (at === undefined) return '…';
        if (at === null) return <span className="muted">{t('userList.never')}</span>;
        return (
          <time dateTime={at} title={formatDateTime(at)}>
            {formatRelative(at)}
          </time>
        );
      },
    },
    {
      key: 'status',
      header: t('userList.status'),
      cell: (user) => <UserStatus user={user} now={query.dataUpdatedAt} />,
    },
    {
      key: 'actions',
      header: t('userList.actions'),
      cell: (user) =>
        self(user) ? (
          <span className="muted admin-self">{t('userList.self')}</span>
        ) : (
          <span className="admin-actions">
            <button
              type="button"
              aria-label={`${user.disabledAt === null ? t('userList.disable') : t('userList.enable')} ${user.email}`}
              onClick={() => {
                change.reset();
                setAsking({ kind: user.disabledAt === null ? 'disable' : 'enable', user });
              }}
            >
              {user.disabledAt === null ? t('userList.disable') : t('userList.enable')}
            </button>
            <button
              type="button"
              className="danger"
              aria-label={`${t('delete', { ns: 'common' })} ${user.email}`}
              onClick={() => {
                change.reset();
                setAsking({ kind: 'delete', user });
              }}
            >
              {t('delete', { ns: 'common' })}
            </button>
          </span>
        ),
    },
  ];

  const email = asking?.user.email ?? '';
  const dialog =
    asking === null
      ? { title: '', text: '', button: '' }
      : asking.kind === 'role'
        ? {
            title: t('confirmUser.role', { email, role: t(`role.${asking.role}`) }),
            text: t('confirmUser.roleText'),
            button: t('confirmUser.roleButton'),
          }
        : asking.kind === 'disable'
          ? {
              title: t('confirmUser.disable', { email }),
              text: t('confirmUser.disableText'),
              button: t('userList.disable'),
            }
          : asking.kind === 'enable'
            ? {
                title: t('confirmUser.enable', { email }),
                text: t('confirmUser.enableText'),
                button: t('userList.enable'),
              }
            : {
                title: t('confirmUser.delete', { email }),
                text: t('confirmUser.deleteText'),
                button: t('delete', { ns: 'common' }),
              };

  return (
    <Section title={t('userList.title')}>
      <QueryView query={query} isEmpty={(users) => users.length === 0}>
        {(users) => (
          <DataTable
            caption={t('userList.title')}
            columns={columns}
            rows={[...users].sort((a, b) => a.email.localeCompare(b.email))}
            rowKey={(user) => user.id}
          />
        )}
      </QueryView>
      {/* Mounted only while asked: one dialog in the page at a time. */}
      {asking !== null && (
        <ConfirmDialog
          open
          title={dialog.title}
          confirmLabel={dialog.button}
          danger={asking?.kind === 'delete' || asking?.kind === 'disable'}
          pending={change.isPending}
          onConfirm={() => change.mutate(asking)}
          onCancel={() => setAsking(null)}
        >
          <p>{dialog.text}</p>
          {change.isError && (
            <p role="alert" className="error-text">
              {errorText(change.error)}
            </p>
          )}
        </ConfirmDialog>
      )}
    </Section>
  );
}

function CreateToken() {
  const { t } = useTranslation('admin');
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('analyst');
  const [created, setCreated] = useState<(Token & { readonly token: string }) | null>(null);
  const secretRef = useRef<HTMLElement>(null);
  const create = useMutation({
    mutationFn: () => api.post<Token & { token: string }>('/api/tokens', { name: name.trim(), role }),
    onSuccess: (token) => {
      setCreated(token);
      setName('');
      const { token: _secret, ...listed } = token;
      queryClient.setQueryData<Token[]>(tokensKey, (old) => [...(old ?? []), listed]);
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (name.trim() !== '') create.mutate();
  }
  return (
    <Section title={t('createToken.title')}>
      <form className="admin-form" onSubmit={submit}>
        <label className="admin-grow">
          {t('createToken.name')}
          <input
            required
            maxLength={200}
            placeholder={t('createToken.placeholder')}
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </label>
        <Field label={t('role.label')}>
          {(id) => <RoleSelect id={id} value={role} onChange={setRole} />}
        </Field>
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? t('createToken.submitting') : t('createToken.submit')}
        </button>
      </form>
      <p className="muted admin-help">{t('tokens.help')}</p>
      {create.isError && (
        <p role="alert" className="error-text">
          {errorText(create.error)}
        </p>
      )}
      {created !== null && (
        <div className="admin-secret" role="region" aria-label={t('newToken.title', { name: created.name })}>
          <h3>{t('newToken.title', { name: created.name })}</h3>
          <p className="admin-warning">{t('newToken.warning', { role: t(`role.${created.role}`) })}</p>
          <div className="admin-secret-row">
            <code ref={secretRef} className="admin-secret-value" data-testid="new-token">
              {created.token}
            </code>
            <CopyButton text={created.token} target={secretRef} what={t('newToken.what')} />
          </div>
          <button type="button" onClick={() => setCreated(null)}>
            {t('newToken.done')}
          </button>
        </div>
      )}
    </Section>
  );
}

function TokenList() {
  const { t } = useTranslation('admin');
  const queryClient = useQueryClient();
  const query = useTokens();
  const users = useUsers();
  const [asking, setAsking] = useState<Token | null>(null);
  const revoke = useMutation({
    mutationFn: (token: Token) => api.delete<Token>(`/api/tokens/${encodeURIComponent(token.id)}`),
    onSuccess: (revoked) => {
      setAsking(null);
      queryClient.setQueryData<Token[]>(tokensKey, (old) =>
        (old ?? []).map((token) => (token.id === revoked.id ? revoked : token)),
      );
    },
  });
  const tokenNames = new Map((query.data ?? []).map((token) => [token.id, token.name]));
  const creator = (id: string): string =>
    id === bootstrapId
      ? t('tokenList.adminToken')
      : (users.data?.find((user) => user.id === id)?.email ?? tokenNames.get(id) ?? id);

  const columns: Column<Token>[] = [
    { key: 'name', header: t('tokenList.name'), cell: (token) => <strong>{token.name}</strong> },
    { key: 'role', header: t('tokenList.role'), cell: (token) => <RoleBadge role={token.role} /> },
    {
      key: 'created',
      header: t('tokenList.created'),
      cell: (token) => <span className="admin-nowrap">{formatDate(token.createdAt)}</span>,
    },
    { key: 'createdBy', header: t('tokenList.createdBy'), cell: (token) => creator(token.createdBy) },
    {
      key: 'lastUsed',
      header: t('tokenList.lastUsed'),
      cell: (token) =>
        token.lastUsedAt === null ? (
          <span className="muted">{t('tokenList.never')}</span>
        ) : (
          <time dateTime={token.lastUsedAt} title={formatDateTime(token.lastUsedAt)}>
            {formatRelative(token.lastUsedAt)}
          </time>
        ),
    },
    {
      key: 'status',
      header: t('tokenList.status'),
      cell: (token) =>
        token.revokedAt === null ? (
          <span className="badge ok">{t('tokenList.active')}</span>
        ) : (
          <span className="badge danger">
            {t('tokenList.revoked', { date: formatDate(token.revokedAt) })}
          </span>
        ),
    },
    {
      key: 'actions',
      header: t('tokenList.actions'),
      cell: (token) =>
        token.revokedAt === null ? (
          <button
            type="button"
            className="danger"
            aria-label={t('tokenList.revokeLabel', { name: token.name })}
            onClick={() => {
              revoke.reset();
              setAsking(token);
            }}
          >
            {t('tokenList.revoke')}
          </button>
        ) : null,
    },
  ];

  return (
    <Section title={t('tokens.title')}>
      <QueryView query={query} isEmpty={(tokens) => tokens.length === 0} empty={t('tokenList.empty')}>
        {(tokens) => (
          <DataTable
            caption={t('tokens.title')}
            columns={columns}
            // Working tokens first, the newest first.
            rows={[...tokens].sort(
              (a, b) =>
                Number(a.revokedAt !== null) - Number(b.revokedAt !== null) ||
                b.createdAt.localeCompare(a.createdAt),
            )}
            rowKey={(token) => token.id}
          />
        )}
      </QueryView>
      {asking !== null && (
        <ConfirmDialog
          open
          title={t('confirmToken.title', { name: asking.name })}
          confirmLabel={t('tokenList.revoke')}
          danger
          pending={revoke.isPending}
          onConfirm={() => revoke.mutate(asking)}
          onCancel={() => setAsking(null)}
        >
          <p>{t('confirmToken.text')}</p>
          {revoke.isError && (
            <p role="alert" className="error-text">
              {errorText(revoke.error)}
            </p>
          )}
        </ConfirmDialog>
      )}
    </Section>
  );
}
