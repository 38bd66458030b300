/** A rejected event or request as GET /api/quarantine answers it. */
export interface QuarantineRecord {
  readonly id: number;
  readonly sourceId: string;
  readonly receivedAt: string;
  readonly code: string;
  readonly reason: string;
  readonly field: string | null;
  readonly kind: string;
  readonly batchIndex: number | null;
  readonly messageId: string | null;
  readonly status: 'pending' | 'replayed';
  readonly replayedAt: string | null;
  /** The rejected JSON, as received (not always valid JSON). */
  readonly payload: string;
}

export interface ReplayResult {
  readonly status: 'replayed';
  readonly accepted: number;
  readonly duplicates: number;
}

export interface ReplayAllResult {
  readonly replayed: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly stillInvalid: readonly { readonly id: number; readonly code: string; readonly reason: string }[];
}

/** The payload laid out for reading and editing when it is JSON; as received otherwise. */
export function editablePayload(payload: string): string {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}

/** The text of the editor as JSON, or why it is not. */
export function parseCorrection(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}
