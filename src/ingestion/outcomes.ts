import type { ErrorCode } from '../errors.ts';

/** Why one event was not stored: a value, not an exception. */
export interface ItemRejection {
  readonly rejected: true;
  readonly code: ErrorCode;
  readonly message: string;
  readonly field: string | null;
}

export function isRejection(value: unknown): value is ItemRejection {
  return typeof value === 'object' && value !== null && (value as { rejected?: unknown }).rejected === true;
}

/** One rejected item of a batch, as the tracking API reports it. */
export interface RejectedItem {
  readonly index: number;
  readonly messageId: string | null;
  readonly code: ErrorCode;
  readonly reason: string;
  readonly field: string | null;
}
