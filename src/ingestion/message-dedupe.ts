import { hash } from 'node:crypto';

/**
 * Remembers which messageIds each source has sent over the de-duplication window, so that a
 * retried event is stored once. Each message is kept as a 64-bit fingerprint in typed arrays
 * (8 bytes a message plus table slack, instead of a string per message), grouped by the hour it
 * arrived in so that whole hours expire at once. The chance that two different messages share a
 * fingerprint is about n² / 2⁶⁵: one in 370,000 for ten million messages in the window.
 */
export interface MessageDedupe {
  /** True when this fingerprint was seen in the window; otherwise records it and returns false. */
  checkAndAdd(fingerprint: Fingerprint, hour: number): boolean;
  /** Forgets fingerprints whose events could not be committed, so that a retry is accepted. */
  forget(fingerprint: Fingerprint, hour: number): void;
  /** Drops the hours that have left the window. */
  expire(nowHour: number): void;
  readonly size: number;
}

export interface Fingerprint {
  readonly hi: number;
  readonly lo: number;
}

/** md5(sourceId + "\0" + messageId), first 8 bytes as little-endian halves (the store computes the same). */
export function messageFingerprint(sourceId: string, messageId: string): Fingerprint {
  // A 'binary' (latin1) string holds one byte a character: read without the Buffer a 'buffer' digest allocates,
  // which costs twice as much as the hash itself.
  const digest = hash('md5', `${sourceId}\u0000${messageId}`, 'binary');
  return { hi: uint32At(digest, 4), lo: uint32At(digest, 0) };
}

/** The little-endian 32-bit integer at a byte offset of a latin1 string. */
export function uint32At(bytes: string, offset: number): number {
  return (
    (bytes.charCodeAt(offset) |
      (bytes.charCodeAt(offset + 1) << 8) |
      (bytes.charCodeAt(offset + 2) << 16) |
      (bytes.charCodeAt(offset + 3) << 24)) >>>
    0
  );
}

export function hourOf(ms: number): number {
  return Math.floor(ms / 3_600_000);
}

/**
 * Slots in one table at most (16 MB, 1.5 million messages). A fuller hour gets another table
 * rather than a table twice as large: memory grows by 16 MB steps instead of doubling (a busy hour
 * of ten million messages would otherwise need 192 MB at the moment its table grows), and adding
 * never stops to copy a large table.
 */
const maxTableSlots = 1 << 21;

export function createMessageDedupe(windowHours: number): MessageDedupe {
  const hours = new Map<number, FingerprintTable[]>();
  let size = 0;

  return {
    checkAndAdd(fingerprint, hour) {
      const { hi, lo } = slotKey(fingerprint);
      for (const tables of hours.values()) for (const table of tables) if (table.has(hi, lo)) return true;
      let tables = hours.get(hour);
      if (tables === undefined) {
        tables = [new FingerprintTable(1024)];
        hours.set(hour, tables);
      }
      let table = tables[tables.length - 1]!;
      if (table.full) {
        table = new FingerprintTable(maxTableSlots);
        tables.push(table);
      }
      table.add(hi, lo);
      size++;
      return false;
    },
    forget(fingerprint, hour) {
      const { hi, lo } = slotKey(fingerprint);
      for (const table of hours.get(hour) ?? []) {
        if (table.delete(hi, lo)) {
          size--;
          return;
        }
      }
    },
    expire(nowHour) {
      for (const [hour, tables] of hours) {
        if (hour <= nowHour - windowHours - 1) {
          for (const table of tables) size -= table.size;
          hours.delete(hour);
        }
      }
    },
    get size() {
      return size;
    },
  };
}

// Slot values reserved by the table: (0, 0) marks an empty slot, (~0, ~0) a deleted one.
const EMPTY = 0;
const DELETED = 0xffffffff;

function slotKey({ hi, lo }: Fingerprint): Fingerprint {
  if (hi === EMPTY && lo === EMPTY) return { hi, lo: 1 };
  if (hi === DELETED && lo === DELETED) return { hi, lo: DELETED - 1 };
  return { hi, lo };
}

/** Open-addressing hash set of 64-bit keys stored as pairs of 32-bit halves. */
class FingerprintTable {
  private keys: Uint32Array;
  private mask: number;
  private used = 0;
  size = 0;

  constructor(capacity: number) {
    this.keys = new Uint32Array(capacity * 2);
    this.mask = capacity - 1;
  }

  has(hi: number, lo: number): boolean {
    const keys = this.keys;
    for (let slot = lo & this.mask; ; slot = (slot + 1) & this.mask) {
      const h = keys[slot * 2];
      const l = keys[slot * 2 + 1];
      if (h === EMPTY && l === EMPTY) return false;
      if (h === hi && l === lo) return true;
    }
  }

  /** At its largest size and three quarters used: further messages go to another table. */
  get full(): boolean {
    return this.mask + 1 >= maxTableSlots && (this.used + 1) * 4 > (this.mask + 1) * 3;
  }

  add(hi: number, lo: number): void {
    // Grow at three quarters full. Fingerprints are uniformly random (md5), so linear probing stays
    // short at that load, and the table holds 10-21 bytes a message instead of 16-32 at one half:
    // the set is the largest thing Cible keeps in memory.
    if ((this.used + 1) * 4 > (this.mask + 1) * 3) this.resize((this.mask + 1) * 2);
    const keys = this.keys;
    for (let slot = lo & this.mask; ; slot = (slot + 1) & this.mask) {
      const h = keys[slot * 2];
      const l = keys[slot * 2 + 1];
      if (h === hi && l === lo) return;
      if ((h === EMPTY && l === EMPTY) || (h === DELETED && l === DELETED)) {
        if (h === EMPTY) this.used++;
        keys[slot * 2] = hi;
        keys[slot * 2 + 1] = lo;
        this.size++;
        return;
      }
    }
  }

  delete(hi: number, lo: number): boolean {
    const keys = this.keys;
    for (let slot = lo & this.mask; ; slot = (slot + 1) & this.mask) {
      const h = keys[slot * 2];
      const l = keys[slot * 2 + 1];
      if (h === EMPTY && l === EMPTY) return false;
      if (h === hi && l === lo) {
        keys[slot * 2] = DELETED;
        keys[slot * 2 + 1] = DELETED;
        this.size--;
        return true;
      }
    }
  }

  private resize(capacity: number): void {
    const old = this.keys;
    this.keys = new Uint32Array(capacity * 2);
    this.mask = capacity - 1;
    this.used = 0;
    this.size = 0;
    for (let slot = 0; slot < old.length; slot += 2) {
      const h = old[slot]!;
      const l = old[slot + 1]!;
      if ((h === EMPTY && l === EMPTY) || (h === DELETED && l === DELETED)) continue;
      this.add(h, l);
    }
  }
}
