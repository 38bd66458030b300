import {
  changesOf,
  foldConsent,
  type ConsentObservation,
  type ConsentState,
  type ConsentStatus,
  type DoubleOptInState,
} from '../domain/consent.ts';
import type { ConsentChangeRow, Store } from '../store/store.ts';

/**
 * Every origin profile's consent history, in memory, so that ingestion records changes and not
 * the repetitions the SDK sends with every event, without asking the store. Loaded from the store
 * at start (and again after a failed commit), fed by `record` as events resolve.
 */
export interface ConsentStateIndex {
  /** Adds a stored change; the store gives them in recording order. */
  load(change: ConsentChangeRow): void;
  /** Forgets everything, before loading again. */
  clear(): void;
  /** Forgets what these origin profiles said (a person erased). */
  forget(origins: Iterable<number>): void;
  /** Whether any of these origin profiles has consent recorded (most people have none). */
  has(origins: readonly number[]): boolean;
  /** The consent in force of the person made of these origin profiles (states and times only). */
  statusOf(origins: readonly number[]): ConsentStatus;
  /**
   * The observations that change the consent of the person made of `members` (the rule of
   * `changesOf`, against the history of all of them), in input order; from now on they are held
   * as changes of `origin`, one of the members.
   */
  record(
    origin: number,
    members: readonly number[],
    observations: readonly ConsentObservation[],
  ): ConsentObservation[];
  /** Origin profiles with consent recorded. */
  readonly profiles: number;
  /** Changes held. */
  readonly changes: number;
}

/*
 * Each origin profile's changes are one array of numbers, two per change: when it was expressed
 * (ms), then a code packing the purpose, the state and the recording order: a profile that
 * answered a banner of eight purposes takes about 200 bytes, map entry included, where objects
 * would take several times that, and there are as many histories as people who ever answered one.
 *
 * code = (purpose index × 8 + flags) × 2^34 + seq; flags: 1 = denied, 2 = double opt-in pending,
 * 4 = double opt-in confirmed. The purpose and flags come out with a division (a remainder of
 * numbers this large costs several times more, and the repetition check reads every change).
 */
const metaUnit = 2 ** 34;
const maxPurposes = 2 ** 16;
const denied = 1;
const pending = 2;
const confirmed = 4;

/** Empties the state and loads every change the store holds; resolves with how many. */
export async function loadConsentState(
  state: ConsentStateIndex,
  store: Pick<Store, 'loadConsent'>,
): Promise<number> {
  state.clear();
  return store.loadConsent((change) => state.load(change));
}

export function createConsentState(): ConsentStateIndex {
  let histories = new Map<number, number[]>();
  let nextSeq = 0;
  let held = 0;
  const purposeIndex = new Map<string, number>();
  const purposeNames: string[] = [];

  const indexOf = (purpose: string): number => {
    let index = purposeIndex.get(purpose);
    if (index === undefined) {
      if (purposeNames.length >= maxPurposes) throw new Error('too many consent purposes');
      index = purposeNames.length;
      purposeNames.push(purpose);
      purposeIndex.set(purpose, index);
    }
    return index;
  };

  const append = (
    origin: number,
    purpose: string,
    state: ConsentState,
    doubleOptIn: 'pending' | 'confirmed' | null | undefined,
    at: number,
  ): void => {
    const flags =
      (state === 'denied' ? denied : 0) +
      (doubleOptIn === 'pending' ? pending : doubleOptIn === 'confirmed' ? confirmed : 0);
    const code = (indexOf(purpose) * 8 + flags) * metaUnit + nextSeq++;
    const history = histories.get(origin);
    // Copied rather than grown: an array grown by push keeps spare room, and changes are rare.
    histories.set(origin, history === undefined ? [at, code] : history.concat(at, code));
    held++;
  };

  /** Whether the observations only repeat what is in force for these histories (most calls). */
  const repeats = (lists: readonly number[][], observations: readonly ConsentObservation[]): boolean => {
    for (const observation of observations) {
      const index = purposeIndex.get(observation.purpose);
      if (index === undefined) return false;
      let latestAt = -Infinity;
      let latestCode = -1;
      for (const list of lists) {
        for (let i = 0; i < list.length; i += 2) {
          const code = list[i + 1]!;
          if (purposeOf(code) !== index) continue;
          const at = list[i]!;
          // Latest by time; between equal times, the later recorded (as foldConsent does).
          if (at > latestAt || (at === latestAt && seqOf(code) > seqOf(latestCode))) {
            latestAt = at;
            latestCode = code;
          }
        }
      }
      // Later than the latest change and saying the same: a repetition. Anything else is judged in full.
      if (latestCode < 0 || observation.at < latestAt || stateOf(latestCode) !== observation.state) {
        return false;
      }
      const said = doubleOptInSaid(observation.purpose, observation.state, observation.doubleOptIn);
      if (said === undefined) continue;
      const before = latestOf(lists, index, (code) => saidOf('email', code) !== undefined);
      if (before === undefined) {
        if (said !== 'none') return false;
        continue;
      }
      if (observation.at < before.at || saidOf('email', before.code) !== said) return false;
    }
    return true;
  };

  /** The histories as observations, in recording order (what `changesOf` and `foldConsent` read). */
  const observationsOf = (lists: readonly number[][]): ConsentObservation[] => {
    const points: { at: number; code: number }[] = [];
    for (const list of lists)
      for (let i = 0; i < list.length; i += 2) points.push({ at: list[i]!, code: list[i + 1]! });
    if (lists.length > 1) points.sort((a, b) => seqOf(a.code) - seqOf(b.code));
    return points.map(({ at, code }) => {
      const purpose = purposeNames[purposeOf(code)]!;
      const doubleOptIn = doubleOptInOf(code);
      // Only states and times decide what is a change; where a stored change came from is not held.
      return {
        purpose,
        state: stateOf(code),
        ...(doubleOptIn === undefined ? {} : { doubleOptIn }),
        at,
        sourceId: '',
        messageId: '',
        method: 'sdk',
      };
    });
  };

  return {
    load(change) {
      append(change.profileId, change.purpose, change.state, change.doubleOptIn, change.at);
    },
    clear() {
      histories = new Map();
      held = 0;
    },
    has: (origins) => origins.some((origin) => histories.has(origin)),
    statusOf(origins) {
      const lists = origins.flatMap((origin) => {
        const list = histories.get(origin);
        return list === undefined ? [] : [list];
      });
      return lists.length === 0 ? { purposes: {} } : foldConsent(observationsOf(lists));
    },
    forget(origins) {
      for (const origin of origins) {
        held -= (histories.get(origin)?.length ?? 0) / 2;
        histories.delete(origin);
      }
    },
    record(origin, members, observations) {
      if (observations.length === 0) return [];
      const lists: number[][] = [];
      for (const member of members) {
        const list = histories.get(member);
        if (list !== undefined) lists.push(list);
      }
      if (lists.length > 0 && repeats(lists, observations)) return [];
      const history = observationsOf(lists);
      const kept = changesOf(foldConsent(history), observations, history);
      for (const change of kept) {
        append(origin, change.purpose, change.state, change.doubleOptIn, change.at);
      }
      return kept;
    },
    get profiles() {
      return histories.size;
    },
    get changes() {
      return held;
    },
  };
}

function latestOf(
  lists: readonly number[][],
  index: number,
  matches: (code: number) => boolean,
): { at: number; code: number } | undefined {
  let best: { at: number; code: number } | undefined;
  for (const list of lists) {
    for (let i = 0; i < list.length; i += 2) {
      const at = list[i]!;
      const code = list[i + 1]!;
      if (purposeOf(code) !== index || !matches(code)) continue;
      if (best === undefined || at > best.at || (at === best.at && seqOf(code) > seqOf(best.code))) {
        best = { at, code };
      }
    }
  }
  return best;
}

/** The purpose index and flags: below 2^19, where bitwise operators are safe. */
function metaOf(code: number): number {
  return Math.floor(code / metaUnit);
}

function seqOf(code: number): number {
  return code - metaOf(code) * metaUnit;
}

function purposeOf(code: number): number {
  return metaOf(code) >> 3;
}

function flagsOf(code: number): number {
  return metaOf(code) & 7;
}

function stateOf(code: number): ConsentState {
  return (flagsOf(code) & denied) !== 0 ? 'denied' : 'granted';
}

function doubleOptInOf(code: number): 'pending' | 'confirmed' | undefined {
  const flags = flagsOf(code);
  return (flags & confirmed) !== 0 ? 'confirmed' : (flags & pending) !== 0 ? 'pending' : undefined;
}

/** What a change says of the email double opt-in (as the domain reads it): a denial resets it. */
function saidOf(purpose: string, code: number): DoubleOptInState | undefined {
  return doubleOptInSaid(purpose, stateOf(code), doubleOptInOf(code));
}

function doubleOptInSaid(
  purpose: string,
  state: ConsentState,
  doubleOptIn: 'pending' | 'confirmed' | null | undefined,
): DoubleOptInState | undefined {
  if (purpose !== 'email') return undefined;
  return state === 'denied' ? 'none' : (doubleOptIn ?? undefined);
}
