import type { StoredEvent } from './events.ts';

/** A stored track event for tests, every field set to something plain; override what a test is about. */
export function storedEventFixture(overrides: Partial<StoredEvent> = {}): StoredEvent {
  return {
    sourceId: 'src_test',
    messageId: 'm-1',
    type: 'track',
    event: 'Tested',
    name: null,
    userId: 'u1',
    anonymousId: null,
    groupId: null,
    previousId: null,
    timestamp: 1_700_000_000_000,
    originalTimestamp: null,
    sentAt: null,
    receivedAt: 1_700_000_000_000,
    properties: null,
    traits: null,
    context: null,
    integrations: null,
    extra: null,
    profileId: null,
    ...overrides,
  };
}
