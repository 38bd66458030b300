import { hash } from 'node:crypto';
import { uint32At, type Fingerprint } from '../ingestion/message-dedupe.ts';
import type { ImportKind } from './mapping.ts';

/**
 * Idempotent row keys. Every event an import builds gets a messageId derived from its row key:
 * the values of the mapping's key columns (an order id), or else the row's mapped cells. The
 * n-th row with the same content (two identical purchases on one day) gets `_n` appended, so
 * identical rows stay distinct while the same file always yields the same messageIds. Importing
 * it again therefore stores nothing new: the pipeline's de-duplication drops what it saw in its
 * window, and the import drops what the store already holds, however old.
 */
export const importMessageIdPrefix = 'imp_';

/** 64-bit key of a row's key material, and the messageId prefix it gives. */
export interface RowKey {
  readonly hi: number;
  readonly lo: number;
  readonly hex: string;
}

export function rowKey(kind: ImportKind, material: string): RowKey {
  const digest = hash('md5', `${kind}\u0000${material}`, 'binary');
  let hex = '';
  for (let i = 0; i < 16; i++) hex += hexByte[digest.charCodeAt(i)]!;
  return { hi: uint32At(digest, 4), lo: uint32At(digest, 0), hex };
}

const hexByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export function messageIdOf(key: RowKey, occurrence: number): string {
  return occurrence <= 1
    ? `${importMessageIdPrefix}${key.hex}`
    : `${importMessageIdPrefix}${key.hex}_${occurrence}`;
}

/** Key material from cells: unambiguous for any values (a separator that CSV cells do not hold, plus lengths). */
export function keyMaterial(cells: readonly unknown[]): string {
  let material = '';
  for (const cell of cells) {
    const text =
      cell === undefined || cell === null
        ? ''
        : typeof cell === 'string'
          ? cell.trim()
          : JSON.stringify(cell);
    material += `${text.length}\u001f${text}\u001e`;
  }
  return material;
}

export interface FingerprintCounterState {
  readonly keys: Uint32Array;
  readonly counts: Uint32Array;
  readonly size: number;
}

/**
 * A counting set of 64-bit fingerprints in typed arrays: how many times each row key was seen in
 * this file, and which messages the store already holds. About 12 bytes a key at most three
 * quarters full, instead of a string per row.
 */
export class FingerprintCounter {
  private keys: Uint32Array;
  private counts: Uint32Array;
  private mask: number;
  size = 0;

  /** The table, to hand to another thread (typed arrays copy cheaply). */
  state(): FingerprintCounterState {
    return { keys: this.keys, counts: this.counts, size: this.size };
  }

  static from(state: FingerprintCounterState): FingerprintCounter {
    const counter = new FingerprintCounter();
    counter.keys = state.keys;
    counter.counts = state.counts;
    counter.mask = state.counts.length - 1;
    counter.size = state.size;
    return counter;
  }

  constructor(capacity = 1024) {
    let slots = 1024;
    while (slots * 3 < capacity * 4) slots *= 2;
    this.keys = new Uint32Array(slots * 2);
    this.counts = new Uint32Array(slots);
    this.mask = slots - 1;
  }

  /** Counts one more sighting; returns how many there have been, this one included. */
  add(hi: number, lo: number): number {
    if ((this.size + 1) * 4 > (this.mask + 1) * 3) this.grow();
    const slot = this.find(hi, lo);
    if (this.counts[slot] === 0) {
      this.keys[slot * 2] = hi;
      this.keys[slot * 2 + 1] = lo;
      this.size++;
    }
    return ++this.counts[slot]!;
  }

  has(fingerprint: Fingerprint): boolean {
    return this.counts[this.find(fingerprint.hi, fingerprint.lo)]! > 0;
  }

  /** The slot holding the key, or the empty slot where it would go (a count of 0 marks empty slots). */
  private find(hi: number, lo: number): number {
    const keys = this.keys;
    for (let slot = (lo ^ hi) & this.mask; ; slot = (slot + 1) & this.mask) {
      if (this.counts[slot] === 0) return slot;
      if (keys[slot * 2] === hi && keys[slot * 2 + 1] === lo) return slot;
    }
  }

  private grow(): void {
    const keys = this.keys;
    const counts = this.counts;
    const slots = (this.mask + 1) * 2;
    this.keys = new Uint32Array(slots * 2);
    this.counts = new Uint32Array(slots);
    this.mask = slots - 1;
    for (let slot = 0; slot < counts.length; slot++) {
      const count = counts[slot]!;
      if (count === 0) continue;
      const target = this.find(keys[slot * 2]!, keys[slot * 2 + 1]!);
      this.keys[target * 2] = keys[slot * 2]!;
      this.keys[target * 2 + 1] = keys[slot * 2 + 1]!;
      this.counts[target] = count;
    }
  }
}
