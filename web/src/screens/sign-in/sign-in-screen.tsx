import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError } from '../../api.ts';
import { LanguageSwitch } from '../../components/language-switch.tsx';
import type { Session } from '../../session.tsx';

export function SignInScreen({ onSignedIn }: { readonly onSignedIn: (session: Session) => void }) {
  const { t } = useTranslation('signIn');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      onSignedIn(await api.post<Session>('/api/session', { email, password }));
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'CIBLE_ERR_AUTH_LOCKED') setError(t('locked'));
      else if (caught instanceof ApiError && caught.status === 429) setError(t('tooMany'));
      else if (caught instanceof ApiError && caught.status === 401) setError(t('failed'));
      else setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setPending(false);
    }
  }

  return (
    <main className="sign-in">
      <div className="sign-in-card">
        <div className="sign-in-language">
          <LanguageSwitch />
        </div>
        <p className="brand brand-large" aria-hidden="true">
          Cible
        </p>
        <h1>{t('title')}</h1>
        <p className="muted">{t('tagline')}</p>
        <form onSubmit={(event) => void submit(event)} className="stack">
          <label>
            {t('email')}
            <input
              type="email"
              name="email"
              autoComplete="username"
              required
              value={email}
              onChange={(event) => setEmail(event.target.value)}
            />
          </label>
          <label>
            {t('password')}
            <input
              type="password"
              name="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
          </label>
          {error !== null && (
            <p role="alert" className="error-text">
              {error}
            </p>
          )}
          <button type="submit" className="primary" disabled={pending}>
            {pending ? t('submitting') : t('submit')}
          </button>
        </form>
      </div>
    </main>
  );
}
