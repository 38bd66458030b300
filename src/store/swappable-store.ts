import type { Store } from './store.ts';

export interface Swappable<T> {
  /**
   * Stands for the current inner object: its methods, and those of the plain objects it holds
   * (a store's `imports`, `segments`...), call the current inner object's; its other values are
   * read from it. `close()` closes the inner object.
   */
  readonly delegate: T;
  /**
   * Waits for the calls under way to end (new calls wait meanwhile), closes the inner object,
   * runs `work`, opens a new inner object and lets the waiting calls through. If `work` fails, the
   * inner object is opened all the same and `swap` rejects with the failure. `work` must not call
   * the delegate: that call would wait for the swap, which waits for `work`.
   */
  readonly swap: (work: () => Promise<void>) => Promise<void>;
}

export interface SwappableOptions<T> {
  /**
   * What synchronous methods do while a swap is under way, when they cannot wait: called with
   * the same arguments instead of the inner object's. Without one, a call during a swap waits
   * for it and so returns a promise, which only suits asynchronous methods.
   */
  readonly duringSwap?: Partial<T>;
}

type Method = (...args: unknown[]) => unknown;
type Owner = () => Record<string, unknown>;

/**
 * Wraps an object that must sometimes be closed and opened again (to rewrite its files) behind
 * one that does not change, so that what holds it need not know. The wrapper is built by walking
 * the first inner object: new methods are covered without edits, provided every inner object
 * opened has the same shape. A call costs a check, a counter and, for a promise, one `then`.
 */
export async function createSwappable<T extends { close(): Promise<void> }>(
  open: () => Promise<T>,
  options: SwappableOptions<T> = {},
): Promise<Swappable<T>> {
  let inner = await open();
  let inFlight = 0;
  /**
   * Set while a swap is under way (calls wait for it), or rejected when the inner object could
   * not be opened again (calls fail with why); undefined otherwise, the fast path.
   */
  let gate: Promise<void> | undefined;
  let drained: (() => void) | undefined;
  let reopenFailed = false;
  let closed = false;
  let swaps: Promise<unknown> = Promise.resolve();

  const leave = (): void => {
    if (--inFlight === 0 && drained !== undefined) drained();
  };
  // Shared by every call, so that tracking one allocates nothing but the `then`.
  const passValue = (value: unknown): unknown => {
    leave();
    return value;
  };
  const passError = (error: unknown): never => {
    leave();
    throw error;
  };

  function call(owner: Owner, key: string, args: unknown[]): unknown {
    if (gate !== undefined) return gate.then(() => call(owner, key, args));
    inFlight++;
    let result: unknown;
    try {
      const target = owner();
      result = (target[key] as Method).apply(target, args);
    } catch (error) {
      leave();
      throw error;
    }
    if (isThenable(result)) return result.then(passValue, passError);
    leave();
    return result;
  }

  function wrap(source: Record<string, unknown>, owner: Owner, top: boolean): Record<string, unknown> {
    const wrapped: Record<string, unknown> = {};
    for (const key of Object.keys(source)) {
      if (top && key === 'close') continue;
      const value = source[key];
      const standIn = top ? (options.duringSwap as Record<string, unknown> | undefined)?.[key] : undefined;
      if (typeof value === 'function' && typeof standIn === 'function') {
        wrapped[key] = (...args: unknown[]) =>
          gate === undefined ? (owner()[key] as Method)(...args) : (standIn as Method)(...args);
      } else if (typeof value === 'function') {
        wrapped[key] = (...args: unknown[]) => call(owner, key, args);
      } else if (isPlainObject(value)) {
        wrapped[key] = wrap(value, () => owner()[key] as Record<string, unknown>, false);
      } else {
        Object.defineProperty(wrapped, key, { enumerable: true, get: () => owner()[key] });
      }
    }
    return wrapped;
  }

  /** Swaps asked for and not yet done: the gate stays closed until the last one ends. */
  let pendingSwaps = 0;
  let release: () => void = () => undefined;

  async function swapNow(work: () => Promise<void>): Promise<void> {
    let reopenError: unknown;
    try {
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      drained = undefined;
      // After a failed reopening the inner object is closed already.
      if (!reopenFailed) await inner.close();
      let workError: unknown;
      let workFailed = false;
      try {
        await work();
      } catch (error) {
        workFailed = true;
        workError = error;
      }
      try {
        inner = await open();
        reopenFailed = false;
      } catch (error) {
        reopenFailed = true;
        reopenError = error;
      }
      if (reopenFailed && workFailed) {
        throw new AggregateError([workError, reopenError], 'The swap failed, and reopening failed too.');
      }
      if (reopenFailed) throw reopenError;
      if (workFailed) throw workError;
    } finally {
      if (--pendingSwaps === 0) {
        if (reopenFailed) {
          gate = Promise.reject(
            new Error('The store could not be opened again after a swap; a new swap tries again.', {
              cause: reopenError,
            }),
          );
          gate.catch(() => undefined);
        } else {
          gate = undefined;
        }
        release();
      }
    }
  }

  const current = (): Record<string, unknown> => inner;
  const delegate = wrap(current(), current, true);
  delegate.close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // The swaps asked for before end first; those asked for after are refused.
    await swaps;
    if (!reopenFailed) await inner.close();
  };

  return {
    delegate: delegate as unknown as T,
    swap(work) {
      if (closed) return Promise.reject(new Error('Cannot swap a closed store: swap before closing it.'));
      // Closed at once, so that a call made after this one waits for the swap.
      if (pendingSwaps++ === 0) gate = new Promise<void>((resolve) => (release = resolve));
      const swapped = swaps.then(() => swapNow(work));
      swaps = swapped.catch(() => undefined);
      return swapped;
    },
  };
}

export interface SwappableStore {
  /** Stands for the store opened last (see Swappable.delegate). */
  readonly store: Store;
  /** Closes the store, runs `work` (rewriting its file, say), opens it again (see Swappable.swap). */
  readonly swap: (work: () => Promise<void>) => Promise<void>;
}

/** A store that can be closed and opened again under the feet of those who hold it. */
export async function createSwappableStore(open: () => Promise<Store>): Promise<SwappableStore> {
  const swappable = await createSwappable(open);
  return { store: swappable.delegate, swap: swappable.swap };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}
