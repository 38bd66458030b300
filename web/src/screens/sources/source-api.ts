import { useQuery } from '@tanstack/react-query';
import { api } from '../../api.ts';

/** A source as GET /api/sources answers it. */
export interface Source {
  readonly id: string;
  readonly name: string;
  readonly writeKey: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

/** A stored event as GET /api/events answers it. */
export interface StoredEvent {
  readonly seq: number;
  readonly sourceId: string;
  readonly messageId: string;
  readonly type: string;
  readonly event?: string;
  readonly name?: string;
  readonly userId?: string;
  readonly anonymousId?: string;
  readonly timestamp: string;
  readonly receivedAt: string;
  readonly [field: string]: unknown;
}

export const eventTypes = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;

export const sourcesKey = ['sources'] as const;

/** Every source (there are few): the sources screen, and the names other screens show. */
export function useSources(options: { readonly enabled?: boolean } = {}) {
  return useQuery({
    queryKey: sourcesKey,
    queryFn: async () => (await api.get<{ sources: Source[] }>('/api/sources')).sources,
    enabled: options.enabled ?? true,
  });
}

/** The name of a source by its id, or the id itself while the list loads or for a source not listed. */
export function sourceNameOf(sources: readonly Source[] | undefined): (id: string) => string {
  const names = new Map((sources ?? []).map((source) => [source.id, source.name]));
  return (id) => names.get(id) ?? id;
}
