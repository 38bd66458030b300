/**
 * The probe of the real-time segment benchmark: one dedicated person whose trait `probe` flips
 * between "in" and "out", each flip followed at once by reads until the API shows the flip. What
 * is measured is what a client sees: from the 200 of the identify call to the answer of the first
 * read that shows the probe segment as expected.
 *
 * Two reads can show it: the profile (`GET /api/profiles?identifier=...`, its `segments`), which
 * waits until the store holds what was acknowledged but not for the segment evaluation, so it may
 * need several reads; or the probe segment's members (`GET /api/segments/{id}/members`), which also
 * waits for the evaluation round of what was acknowledged before it.
 */
import { Agent } from 'node:http';
import { httpRequest, type Answer } from './load-client.ts';
import { sleep } from './measure.ts';
import type { BenchServer } from './server.ts';
import { probeIdentify } from './segments-live-workload.ts';

/** One flip of the probe trait, timed. */
export interface ProbeSample {
  /** From the 200 of the identify call to the answer that showed the expected membership, ms. */
  readonly visibleMs: number;
  /** How long the identify call took to be acknowledged, ms. */
  readonly ackMs: number;
  /** How long the first read took, ms: most of it is the server waiting for the evaluation. */
  readonly firstReadMs: number;
  /** Whether the first read already showed the expected membership. */
  readonly firstReadMatched: boolean;
  readonly reads: number;
  /** Reads answered 503: the store had not loaded the acknowledged events within the server's 10 s. */
  readonly unavailable: number;
  /** Gave up after `timeoutMs` without seeing the expected membership. */
  readonly timedOut: boolean;
  /** A GET /healthz just before the flip, ms: how responsive the server's event loop was. */
  readonly healthzMs: number;
}

export interface Probe {
  /** Flips the trait, then reads until the membership shows; resolves with the timings. */
  flip(): Promise<ProbeSample>;
  /** Identify calls acknowledged so far: each is one event in the store. */
  readonly acknowledged: number;
  close(): void;
}

/** Which read shows the membership: see the top of this file. */
export type ProbeRead = 'profile' | 'members';

export interface ProbeOptions {
  readonly server: BenchServer;
  readonly writeKey: string;
  readonly userId: string;
  /** The id of the probe segment, looked for in the profile's `segments`. */
  readonly segmentId: string;
  readonly read: ProbeRead;
  /** Pause between reads that do not show the flip yet, ms. */
  readonly pollMs: number;
  readonly timeoutMs: number;
  readonly runId: string;
}

export function createProbe(options: ProbeOptions): Probe {
  const url = new URL(options.server.url);
  // An agent of its own: the probe never queues behind the load's requests in this process.
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  const basic = `Basic ${Buffer.from(`${options.writeKey}:`).toString('base64')}`;
  const profilePath = `/api/profiles?identifier=${encodeURIComponent(`userId:${options.userId}`)}`;
  // The probe segment holds nobody else: its first page of members is the probe or nobody.
  const membersPath = `/api/segments/${encodeURIComponent(options.segmentId)}/members?limit=10`;
  let profileId: number | undefined;
  let flips = 0;
  let acknowledged = 0;
  let state: 'in' | 'out' = 'out';

  const send = (method: 'GET' | 'POST', path: string, authorization: string, body?: string) =>
    httpRequest(agent, {
      host: url.hostname,
      port: Number(url.port),
      path,
      method,
      headers: {
        authorization,
        ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': body.length }),
      },
      ...(body === undefined ? {} : { body }),
    });

  async function identify(next: 'in' | 'out'): Promise<void> {
    const body = probeIdentify(options.userId, next, `probe-${options.runId}-${flips}`);
    for (;;) {
      const answer = await send('POST', '/v1/identify', basic, body);
      if (answer.status === 200) {
        acknowledged++;
        return;
      }
      // The probe is a client like the others: an overloaded server asks it to come back.
      if (answer.status !== 429) throw unexpected('POST /v1/identify', answer);
      await sleep(5);
    }
  }

  /** The answer's JSON; undefined for a 503, the store still loading what was acknowledged. */
  async function get(path: string): Promise<unknown> {
    const answer = await send('GET', path, `Bearer ${options.server.token}`);
    if (answer.status === 503) return undefined;
    if (answer.status !== 200) throw unexpected(`GET ${path}`, answer);
    return JSON.parse(answer.text) as unknown;
  }

  /** Whether the probe is in the probe segment now, as the API answers; undefined when it could not say. */
  async function readMembership(): Promise<boolean | undefined> {
    if (options.read === 'profile' || profileId === undefined) {
      const profile = (await get(profilePath)) as { id: number; segments: { id: string }[] } | undefined;
      if (profile === undefined) return undefined;
      profileId = profile.id;
      if (options.read === 'profile')
        return profile.segments.some((segment) => segment.id === options.segmentId);
    }
    const members = (await get(membersPath)) as { profiles: { id: number }[] } | undefined;
    return members?.profiles.some((card) => card.id === profileId);
  }

  return {
    async flip() {
      flips++;
      state = state === 'in' ? 'out' : 'in';
      const expected = state === 'in';
      const healthzStarted = performance.now();
      await send('GET', '/healthz', '');
      const sent = performance.now();
      const healthzMs = sent - healthzStarted;
      await identify(state);
      const acknowledged = performance.now();
      let reads = 0;
      let firstReadMs = 0;
      let firstReadMatched = false;
      let unavailable = 0;
      for (;;) {
        const readStarted = performance.now();
        const member = await readMembership();
        const answered = performance.now();
        reads++;
        if (member === undefined) unavailable++;
        if (reads === 1) {
          firstReadMs = answered - readStarted;
          firstReadMatched = member === expected;
        }
        const visibleMs = answered - acknowledged;
        const timedOut = visibleMs > options.timeoutMs;
        if (member === expected || timedOut) {
          return {
            visibleMs,
            ackMs: acknowledged - sent,
            firstReadMs,
            firstReadMatched,
            reads,
            unavailable,
            timedOut,
            healthzMs,
          };
        }
        await sleep(options.pollMs);
      }
    },
    get acknowledged() {
      return acknowledged;
    },
    close: () => agent.destroy(),
  };
}

/** The probe person's profile id, once the server knows them; used to check the setup. */
export async function probeProfileId(server: BenchServer, userId: string): Promise<number | undefined> {
  const response = await fetch(
    `${server.url}/api/profiles?identifier=${encodeURIComponent(`userId:${userId}`)}`,
    { headers: { authorization: `Bearer ${server.token}` } },
  );
  if (response.status === 404) return undefined;
  if (response.status !== 200)
    throw new Error(`GET /api/profiles answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: number }).id;
}

function unexpected(call: string, answer: Answer): Error {
  return new Error(`${call} answered ${answer.status}: ${answer.text.slice(0, 500)}`);
}
