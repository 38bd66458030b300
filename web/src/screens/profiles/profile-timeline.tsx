import { useInfiniteQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api } from '../../api.ts';
import { formatDateTime } from '../../components/format.ts';
import { Section } from '../../components/page.tsx';
import { EmptyState, ErrorState, Loading } from '../../components/states.tsx';
import { useSession } from '../../session.tsx';
import { traitText, type TimelineEvent, type TimelinePage } from './profile-types.ts';

const pageSize = 25;
/** Properties shown beside an event; the export has every one. */
const shownProperties = 4;

/** The person's events across every source and channel, newest first, a page at a time. */
export function ProfileTimeline({
  profileId,
  sourceName,
}: {
  readonly profileId: number;
  readonly sourceName: (id: string) => string;
}) {
  const { t } = useTranslation('profiles');
  const { permissions } = useSession();
  const timeline = useInfiniteQuery({
    queryKey: ['profiles', profileId, 'events'],
    queryFn: ({ pageParam }) =>
      api.get<TimelinePage>(`/api/profiles/${profileId}/events`, { limit: pageSize, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    // Raw events carry personal data as sent: the server keeps them from roles that see pseudonyms.
    enabled: permissions.personalData,
  });

  let body;
  if (!permissions.personalData) body = <p className="muted">{t('timelineHidden')}</p>;
  else if (timeline.isPending) body = <Loading />;
  else if (timeline.isError) {
    body = <ErrorState error={timeline.error} onRetry={() => void timeline.refetch()} />;
  } else {
    const events = timeline.data.pages.flatMap((page) => page.events);
    body =
      events.length === 0 ? (
        <EmptyState>{t('timelineEmpty')}</EmptyState>
      ) : (
        <>
          <ol className="timeline" aria-label={t('timelineTitle')}>
            {events.map((event) => (
              <TimelineRow key={event.seq} event={event} sourceName={sourceName} />
            ))}
          </ol>
          {timeline.hasNextPage && (
            <div className="profiles-more">
              <button
                type="button"
                disabled={timeline.isFetchingNextPage}
                onClick={() => void timeline.fetchNextPage()}
              >
                {timeline.isFetchingNextPage ? t('loading', { ns: 'common' }) : t('loadMore')}
              </button>
            </div>
          )}
        </>
      );
  }
  return (
    <Section title={t('timelineTitle')} className="profile-timeline">
      {body}
    </Section>
  );
}

function TimelineRow({
  event,
  sourceName,
}: {
  readonly event: TimelineEvent;
  readonly sourceName: (id: string) => string;
}) {
  const { t } = useTranslation('profiles');
  const label = eventLabel(event, t);
  const typeLabel = t(`eventType.${eventType(event.type)}`);
  const channel = channelOf(event);
  const details = Object.entries(event.type === 'identify' ? (event.traits ?? {}) : (event.properties ?? {}))
    .filter(([, value]) => value !== null && typeof value !== 'object')
    .slice(0, shownProperties);
  return (
    <li className={`timeline-row timeline-${event.type}`} data-testid="timeline-row">
      <span className="timeline-dot" aria-hidden="true" />
      <div className="timeline-main">
        <div className="timeline-head">
          <strong className="timeline-name">{label}</strong>
          {typeLabel !== label && <span className="badge">{typeLabel}</span>}
          <time className="muted timeline-time" dateTime={event.timestamp}>
            {formatDateTime(event.timestamp)}
          </time>
        </div>
        <div className="muted timeline-source">
          {channel === undefined
            ? t('timelineSource', { source: sourceName(event.sourceId) })
            : t('timelineSourceChannel', { source: sourceName(event.sourceId), channel })}
        </div>
        {details.length > 0 && (
          <dl className="timeline-properties">
            {details.map(([key, value]) => (
              <div key={key}>
                <dt>{key}</dt>
                <dd>{traitText(value)}</dd>
              </div>
            ))}
          </dl>
        )}
      </div>
    </li>
  );
}

const eventTypes = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const;
type EventType = (typeof eventTypes)[number] | 'other';

function eventType(type: string): EventType {
  return (eventTypes as readonly string[]).includes(type) ? (type as EventType) : 'other';
}

function eventLabel(event: TimelineEvent, t: ReturnType<typeof useTranslation<'profiles'>>['t']): string {
  if (event.type === 'track' && event.event !== undefined) return event.event;
  if ((event.type === 'page' || event.type === 'screen') && event.name !== undefined) return event.name;
  if (event.type === 'page') return t('eventPageViewed');
  if (event.type === 'screen') return t('eventScreenViewed');
  if (event.type === 'identify') return t('eventIdentified');
  return t(`eventType.${eventType(event.type)}`);
}

/** Where the event came through: its `channel`, else the library that sent it. */
function channelOf(event: TimelineEvent): string | undefined {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const library = event.context?.library;
  return (
    text(event.extra?.channel) ??
    text(event.context?.channel) ??
    (typeof library === 'object' && library !== null
      ? text((library as Record<string, unknown>).name)
      : undefined)
  );
}
