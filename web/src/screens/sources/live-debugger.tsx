import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../../api.ts';
import { DataTable, type Column } from '../../components/data-table.tsx';
import { EmptyState, ErrorState, Loading } from '../../components/states.tsx';
import { currentLanguage } from '../../i18n.ts';
import { eventTypes, sourceNameOf, type Source, type StoredEvent } from './source-api.ts';

const pollMs = 2000;
/** Events kept on screen: a debugger shows what is arriving, not the history. */
const kept = 200;

function formatTime(value: string): string {
  const locale = currentLanguage() === 'fr' ? 'fr-FR' : 'en-GB';
  return new Intl.DateTimeFormat(locale, { timeStyle: 'medium' }).format(new Date(value));
}

/** What an event is about, in a word: its event name, its page or screen name (or the page's path). */
function labelOf(event: StoredEvent): string | undefined {
  if (event.type === 'track') return event.event;
  const path = (event.properties as { path?: unknown } | undefined)?.path;
  return event.name ?? (event.type === 'page' && typeof path === 'string' ? path : undefined);
}

/**
 * Events as they are stored, newest at the top: asks every two seconds for the events stored
 * since the newest one shown (GET /api/events?after=), with filters by type, name and source.
 */
export function LiveDebugger({
  sources,
  initialSourceId = '',
}: {
  readonly sources: readonly Source[];
  readonly initialSourceId?: string;
}) {
  const { t } = useTranslation('sources');
  const [type, setType] = useState('');
  const [eventInput, setEventInput] = useState('');
  const [eventName, setEventName] = useState('');
  const [sourceId, setSourceId] = useState(initialSourceId);
  const [paused, setPaused] = useState(false);
  const [feed, setFeed] = useState<{ key: string; events: StoredEvent[] }>({ key: '', events: [] });
  const [status, setStatus] = useState<{ error: unknown; checkedAt: number | null }>({
    error: null,
    checkedAt: null,
  });
  const [selected, setSelected] = useState<StoredEvent | null>(null);
  // The newest event shown, per filter: the next poll asks only for what came after it.
  const newest = useRef<{ key: string; seq: number }>({ key: '', seq: 0 });
  const [attempt, setAttempt] = useState(0);

  const filterKey = JSON.stringify([type, eventName, sourceId]);
  const loaded = feed.key === filterKey;
  const events = loaded ? feed.events : [];
  const nameOf = sourceNameOf(sources);

  // The name filter applies once typing pauses, not at every key.
  useEffect(() => {
    const timer = window.setTimeout(() => setEventName(eventInput.trim()), 400);
    return () => window.clearTimeout(timer);
  }, [eventInput]);

  useEffect(() => {
    if (paused) return;
    const key = JSON.stringify([type, eventName, sourceId]);
    let stopped = false;
    let timer: number | undefined;
    async function poll() {
      const after = newest.current.key === key ? newest.current.seq : null;
      try {
        const page = await api.get<{ events: StoredEvent[] }>('/api/events', {
          type,
          event: eventName,
          sourceId,
          limit: after === null ? 50 : 100,
          after,
        });
        if (stopped) return;
        newest.current = { key, seq: page.events[0]?.seq ?? after ?? 0 };
        setFeed((previous) => ({
          key,
          events: [...page.events, ...(previous.key === key ? previous.events : [])].slice(0, kept),
        }));
        setStatus({ error: null, checkedAt: Date.now() });
      } catch (error) {
        if (stopped) return;
        setStatus((previous) => ({ ...previous, error }));
        // A failure stops the polling until "Try again": no error every two seconds.
        return;
      }
      timer = window.setTimeout(() => void poll(), pollMs);
    }
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [type, eventName, sourceId, paused, attempt]);

  const names = [...new Set(events.map(labelOf).filter((name) => name !== undefined))].sort();

  const columns: Column<StoredEvent>[] = [
    { key: 'time', header: t('debugger.received'), cell: (event) => formatTime(event.receivedAt) },
    {
      key: 'type',
      header: t('debugger.type'),
      cell: (event) => <span className={`badge sources-type-${event.type}`}>{event.type}</span>,
    },
    {
      key: 'name',
      header: t('debugger.name'),
      cell: (event) => labelOf(event) ?? t('none', { ns: 'common' }),
    },
    {
      key: 'who',
      header: t('debugger.who'),
      cell: (event) =>
        event.userId ??
        (event.anonymousId === undefined ? (
          t('none', { ns: 'common' })
        ) : (
          <span className="muted">{t('debugger.anonymous', { id: event.anonymousId })}</span>
        )),
    },
    { key: 'source', header: t('debugger.source'), cell: (event) => nameOf(event.sourceId) },
  ];

  return (
    <div className="stack">
      <div className="row sources-debugger-controls">
        <label>
          {t('debugger.type')}
          <select value={type} onChange={(event) => setType(event.target.value)}>
            <option value="">{t('debugger.allTypes')}</option>
            {eventTypes.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('debugger.eventName')}
          <input
            type="search"
            list="debugger-event-names"
            value={eventInput}
            placeholder={t('debugger.eventNamePlaceholder')}
            onChange={(event) => setEventInput(event.target.value)}
          />
          <datalist id="debugger-event-names">
            {names.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        <label>
          {t('debugger.source')}
          <select value={sourceId} onChange={(event) => setSourceId(event.target.value)}>
            <option value="">{t('debugger.allSources')}</option>
            {sources.map((source) => (
              <option key={source.id} value={source.id}>
                {source.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" aria-pressed={paused} onClick={() => setPaused((value) => !value)}>
          {paused ? t('debugger.resume') : t('debugger.pause')}
        </button>
      </div>
      <p className="sources-debugger-state">
        <span role="status" className={paused ? 'badge warn' : 'badge ok'}>
          {paused ? t('debugger.paused') : t('debugger.listening')}
        </span>{' '}
        {status.checkedAt !== null && (
          <span className="muted">
            {t('debugger.checkedAt', { time: formatTime(new Date(status.checkedAt).toISOString()) })}
          </span>
        )}
      </p>
      {status.error !== null && (
        <ErrorState
          error={status.error}
          onRetry={() => {
            setStatus((previous) => ({ ...previous, error: null }));
            setAttempt((value) => value + 1);
          }}
        />
      )}
      <div className={selected === null ? 'sources-debugger' : 'sources-debugger sources-debugger-open'}>
        <div className="sources-debugger-list">
          {!loaded && !paused && status.error === null ? (
            <Loading />
          ) : events.length === 0 ? (
            <EmptyState>{paused ? t('debugger.emptyPaused') : t('debugger.empty')}</EmptyState>
          ) : (
            <DataTable
              caption={t('debugger.caption')}
              columns={columns}
              rows={events}
              rowKey={(event) => String(event.seq)}
              rowLabel={(event) =>
                t('debugger.open', {
                  type: event.type,
                  name: labelOf(event) ?? '',
                  time: formatTime(event.receivedAt),
                })
              }
              onRowClick={setSelected}
            />
          )}
        </div>
        {selected !== null && (
          <aside className="sources-debugger-detail" aria-label={t('debugger.detail')}>
            <div className="card-header">
              <h3>
                {selected.type} {labelOf(selected) ?? ''}
              </h3>
              <button type="button" onClick={() => setSelected(null)}>
                {t('close', { ns: 'common' })}
              </button>
            </div>
            <pre tabIndex={0} data-testid="event-json">
              {JSON.stringify(selected, null, 2)}
            </pre>
          </aside>
        )}
      </div>
    </div>
  );
}
