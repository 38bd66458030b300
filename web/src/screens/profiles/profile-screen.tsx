import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { api } from '../../api.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { formatDateTime, formatMoney, formatNumber, formatRelative } from '../../components/format.ts';
import { Page, Stat } from '../../components/page.tsx';
import { ErrorState, Loading } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import {
  ComputedTraitsSection,
  ConsentSection,
  IdentifiersSection,
  MergesSection,
  SegmentsSection,
  TraitsSection,
} from './profile-sections.tsx';
import { ProfileTimeline } from './profile-timeline.tsx';
import { personName, traitText, type Erasure, type Merge, type Profile } from './profile-types.ts';
import type { SearchLocationState } from './search-screen.tsx';

interface ProfileLocationState {
  /** The profile id that was asked for, when it had been merged into this one. */
  readonly mergedFrom?: number;
  /** The profile an unmerge just brought back. */
  readonly restored?: number;
}

/** The 360° view of one person: who they are, what they agreed to, what they did. */
export function ProfileScreen() {
  const { t } = useTranslation('profiles');
  const { id: raw } = useParams();
  const id = Number(raw);
  const valid = Number.isInteger(id) && id > 0;
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  const state = (location.state ?? {}) as ProfileLocationState;
  const profile = useQuery({
    queryKey: ['profiles', id],
    queryFn: () => api.get<Profile>(`/api/profiles/${id}`),
    enabled: valid,
  });

  // An absorbed profile's id opens the person it belongs to now, under that person's address.
  const found = profile.data;
  useEffect(() => {
    if (found !== undefined && found.id !== id) {
      queryClient.setQueryData(['profiles', found.id], found);
      void navigate(`/profiles/${found.id}`, {
        replace: true,
        state: { mergedFrom: id } satisfies ProfileLocationState,
      });
    }
  }, [found, id, navigate, queryClient]);

  const title = t('profileTitle', { id: raw ?? '' });
  const back = (
    <Link to="/profiles" className="profiles-back">
      {t('backToSearch')}
    </Link>
  );
  if (!valid) {
    return (
      <Page title={title} subtitle={back}>
        <ErrorState error={new Error(t('invalidId'))} />
      </Page>
    );
  }
  if (profile.isPending) {
    return (
      <Page title={title} subtitle={back}>
        <Loading />
      </Page>
    );
  }
  if (profile.isError) {
    return (
      <Page title={title} subtitle={back}>
        <ErrorState error={profile.error} onRetry={() => void profile.refetch()} />
      </Page>
    );
  }
  return <ProfileView profile={profile.data} title={title} back={back} state={state} />;
}

function ProfileView({
  profile,
  title,
  back,
  state,
}: {
  readonly profile: Profile;
  readonly title: string;
  readonly back: ReactNode;
  readonly state: ProfileLocationState;
}) {
  const { t } = useTranslation('profiles');
  const { permissions } = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [unmerging, setUnmerging] = useState<Merge | null>(null);
  const [erasing, setErasing] = useState(false);
  const sourceName = useSourceNames(profile);

  const unmerge = useMutation({
    mutationFn: (merge: Merge) => api.post(`/api/profiles/${merge.absorbed}/unmerge`),
    onSuccess: async (_answer, merge) => {
      setUnmerging(null);
      await queryClient.invalidateQueries({ queryKey: ['profiles'] });
      void navigate(`/profiles/${profile.id}`, {
        replace: true,
        state: { restored: merge.absorbed } satisfies ProfileLocationState,
      });
    },
  });
  const erase = useMutation({
    mutationFn: () => api.delete<Erasure>(`/api/profiles/${profile.id}`),
    onSuccess: () => {
      setErasing(false);
      queryClient.removeQueries({ queryKey: ['profiles'] });
      void navigate('/profiles', { state: { erased: profile.id } satisfies SearchLocationState });
    },
  });

  const actions = (
    <>
      {permissions.personalData && (
        <>
          <a className="button" href={`/api/profiles/${profile.id}/export?format=json`} download>
            {t('exportJson')}
          </a>
          <a className="button" href={`/api/profiles/${profile.id}/export?format=zip`} download>
            {t('exportZip')}
          </a>
        </>
      )}
      {permissions.admin && (
        <button type="button" className="danger" onClick={() => setErasing(true)}>
          {t('erase')}
        </button>
      )}
    </>
  );

  return (
    <Page title={title} subtitle={back} actions={actions}>
      {state.mergedFrom !== undefined && (
        <div className="profiles-notice" role="status">
          {t('mergedFromNotice', { requested: state.mergedFrom, id: profile.id })}
        </div>
      )}
      {state.restored !== undefined && (
        <div className="profiles-notice" role="status">
          <span>{t('unmergedNotice', { id: state.restored })}</span>
          <Link to={`/profiles/${state.restored}`}>{t('openRestored', { id: state.restored })}</Link>
        </div>
      )}
      <ProfileHeader profile={profile} />
      <div className="profile-grid">
        <div className="profile-column">
          <IdentifiersSection profile={profile} sourceName={sourceName} />
          <TraitsSection profile={profile} sourceName={sourceName} />
          <ProfileTimeline profileId={profile.id} sourceName={sourceName} />
        </div>
        <div className="profile-column">
          <ConsentSection profile={profile} sourceName={sourceName} />
          <SegmentsSection profile={profile} />
          <ComputedTraitsSection profile={profile} />
          <MergesSection
            profile={profile}
            sourceName={sourceName}
            {...(permissions.write ? { onUnmerge: setUnmerging } : {})}
          />
        </div>
      </div>
      {unmerging !== null && (
        <ConfirmDialog
          open
          title={t('unmergeTitle', { absorbed: unmerging.absorbed })}
          confirmLabel={t('unmerge')}
          pending={unmerge.isPending}
          onConfirm={() => unmerge.mutate(unmerging)}
          onCancel={() => {
            setUnmerging(null);
            unmerge.reset();
          }}
        >
          <p>{t('unmergeBody', { absorbed: unmerging.absorbed, survivor: unmerging.survivor })}</p>
          {unmerge.isError && (
            <p className="error-text" role="alert">
              {unmerge.error.message}
            </p>
          )}
        </ConfirmDialog>
      )}
      {erasing && (
        <ConfirmDialog
          open
          danger
          title={t('eraseTitle', { id: profile.id })}
          confirmLabel={t('eraseConfirm')}
          pending={erase.isPending}
          onConfirm={() => erase.mutate()}
          onCancel={() => {
            setErasing(false);
            erase.reset();
          }}
        >
          <p>{t('eraseIntro')}</p>
          <ul className="erase-list">
            <li>{t('eraseIdentifiers', { count: profile.identifiers.length })}</li>
            <li>{t('eraseTraits', { count: Object.keys(profile.traits).length })}</li>
            <li>{t('eraseEvents', { count: profile.summary.events })}</li>
            <li>{t('eraseConsent', { count: profile.consent.history.length })}</li>
            <li>{t('eraseRest')}</li>
          </ul>
          <p>{t('eraseSuppression')}</p>
          <p>
            <strong>{t('eraseIrreversible')}</strong>
          </p>
          {erase.isError && (
            <p className="error-text" role="alert">
              {erase.error.message}
            </p>
          )}
        </ConfirmDialog>
      )}
    </Page>
  );
}

function ProfileHeader({ profile }: { readonly profile: Profile }) {
  const { t } = useTranslation('profiles');
  const { permissions } = useSession();
  const traits = Object.fromEntries(
    Object.entries(profile.traits).map(([name, trait]) => [name, trait.value]),
  );
  // To roles that see pseudonyms, names are hashes: the profile number stands in.
  const name = permissions.personalData ? personName(traits) : undefined;
  const identifier = (type: string) => profile.identifiers.find((row) => row.type === type)?.value;
  const address = traits.address;
  const city =
    traitText(traits.city) ||
    (typeof address === 'object' && address !== null
      ? traitText((address as Record<string, unknown>).city)
      : '');
  const facts: { key: string; label: string; value: string }[] = [];
  if (permissions.personalData) {
    const email = identifier('email');
    const phone = identifier('phone');
    const userId = identifier('userId');
    if (email !== undefined) facts.push({ key: 'email', label: t('factEmail'), value: email });
    if (phone !== undefined) facts.push({ key: 'phone', label: t('factPhone'), value: phone });
    if (userId !== undefined) facts.push({ key: 'userId', label: t('factUserId'), value: userId });
  }
  if (city !== '') facts.push({ key: 'city', label: t('factCity'), value: city });
  facts.push({ key: 'firstSeen', label: t('factFirstSeen'), value: formatDateTime(profile.firstSeen) });
  facts.push({
    key: 'lastSeen',
    label: t('factLastSeen'),
    value: `${formatDateTime(profile.lastSeen)} (${formatRelative(profile.lastSeen)})`,
  });
  const duplicates = profile.quality.suspectedDuplicates?.profiles ?? [];
  const channels = new Set(
    profile.summary.channels.map((channel) => channel.channel ?? channel.library ?? channel.sourceId),
  );

  return (
    <section className="card profile-header" aria-label={t('overviewTitle')}>
      <div className="profile-identity">
        <div className="profile-avatar" aria-hidden="true">
          {initials(name) ?? '#'}
        </div>
        <div className="profile-who">
          <h2 className="profile-name" data-testid="profile-name">
            {name ?? t('profileNumber', { id: profile.id })}
          </h2>
          <div className="profile-badges">
            {profile.members.length > 1 && (
              <span className="badge">{t('mergedFrom', { count: profile.members.length })}</span>
            )}
            <span className={`badge ${profile.quality.hasValidEmail ? 'ok' : ''}`}>
              {profile.quality.hasValidEmail ? t('qualityEmail') : t('qualityNoEmail')}
            </span>
            <span className={`badge ${profile.quality.hasValidPhone ? 'ok' : ''}`}>
              {profile.quality.hasValidPhone ? t('qualityPhone') : t('qualityNoPhone')}
            </span>
            {profile.quality.stale && (
              <span className="badge warn">{t('qualityStale', { days: profile.quality.staleDays })}</span>
            )}
            {duplicates.length > 0 && (
              <span className="badge warn">
                {t('qualityDuplicates', { count: duplicates.length })}{' '}
                {duplicates.slice(0, 3).map((other) => (
                  <Link key={other} to={`/profiles/${other}`}>
                    #{other}
                  </Link>
                ))}
              </span>
            )}
          </div>
        </div>
      </div>
      <dl className="profiles-facts profile-key-facts">
        {facts.map((fact) => (
          <div key={fact.key}>
            <dt>{fact.label}</dt>
            <dd className="profiles-break">{fact.value}</dd>
          </div>
        ))}
      </dl>
      <div className="stats profile-stats">
        <Stat label={t('statEvents')} value={formatNumber(profile.summary.events)} />
        <Stat label={t('statSessions')} value={formatNumber(profile.summary.sessions)} />
        <Stat label={t('statPurchases')} value={formatNumber(profile.summary.purchases)} />
        <Stat label={t('statRevenue')} value={formatMoney(profile.summary.revenue)} />
        <Stat
          label={t('statChannels')}
          value={formatNumber(channels.size)}
          hint={t('statSources', { count: profile.summary.sources.length })}
        />
      </div>
    </section>
  );
}

function initials(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const letters = name
    .split(' ')
    .filter((part) => part !== '')
    .slice(0, 2)
    .map((part) => part[0]?.toUpperCase() ?? '')
    .join('');
  return letters === '' ? undefined : letters;
}

/** Source ids as the names the profile gives them; the admin API's own changes by name too. */
function useSourceNames(profile: Profile): (id: string) => string {
  const { t } = useTranslation('profiles');
  return (id) => (id === 'api' ? t('sourceApi') : (profile.sourceNames[id] ?? id));
}
