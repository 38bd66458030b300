import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, type ReactNode } from 'react';
import { api, ApiError, setCsrfToken, setUnauthorizedHandler } from './api.ts';
import { FullPageLoading } from './components/states.tsx';
import { SignInScreen } from './screens/sign-in/sign-in-screen.tsx';

export type Role = 'admin' | 'marketer' | 'analyst';

export interface Session {
  readonly actor: { readonly type: string; readonly id: string; readonly name: string; readonly role: Role };
  readonly csrfToken: string | null;
  readonly expiresAt: string | null;
}

/** What each role may do in the console; the server checks the same on every request. */
export function permissionsOf(role: Role) {
  return {
    /** Create and change segments, sources, imports; replay quarantine; unmerge. */
    write: role !== 'analyst',
    /** See raw identifiers and personal traits, export and erase a person. */
    personalData: role !== 'analyst',
    /** Users, tokens, the audit log, write keys, purge. */
    admin: role === 'admin',
  };
}

interface SessionContextValue {
  readonly session: Session;
  readonly permissions: ReturnType<typeof permissionsOf>;
  readonly signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export const sessionKey = ['session'] as const;

async function loadSession(): Promise<Session | null> {
  try {
    return await api.get<Session>('/api/session');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** Shows the sign-in screen until there is a session, then the console with the session in context. */
export function SessionGate({ children }: { readonly children: ReactNode }) {
  const queryClient = useQueryClient();
  const query = useQuery({ queryKey: sessionKey, queryFn: loadSession, staleTime: Infinity, retry: false });
  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      queryClient.setQueryData(sessionKey, null);
    });
  }, [queryClient]);
  const session = query.data;
  setCsrfToken(session?.csrfToken ?? null);
  if (query.isPending) return <FullPageLoading />;
  if (session === null || session === undefined) {
    return (
      <SignInScreen
        onSignedIn={(signedIn) => {
          setCsrfToken(signedIn.csrfToken);
          queryClient.setQueryData(sessionKey, signedIn);
        }}
      />
    );
  }
  const value: SessionContextValue = {
    session,
    permissions: permissionsOf(session.actor.role),
    signOut: async () => {
      try {
        await api.delete('/api/session');
      } finally {
        setCsrfToken(null);
        // What the last person saw must not show to the next one.
        queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== sessionKey[0] });
        queryClient.setQueryData(sessionKey, null);
      }
    },
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (value === null) throw new Error('useSession is used outside the SessionGate.');
  return value;
}
