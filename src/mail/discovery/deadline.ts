/**
 * Deadlines for discovery on an injected timer: a signal that aborts after a time or with its
 * parent, and a race that lets a caller stop waiting for work that ignores its signal, so that a
 * source or a probe that never answers cannot hold anything up.
 */
import type { DiscoveryTimer } from './types.ts';

/** Why a wait ended early: the time ran out (`timeout`) or the caller gave up (`aborted`). */
export class DeadlineError extends Error {
  readonly kind: 'timeout' | 'aborted';
  constructor(kind: 'timeout' | 'aborted', message: string) {
    super(message);
    this.name = 'DeadlineError';
    this.kind = kind;
  }
}

export interface TimedSignal {
  signal: AbortSignal;
  /** Stops the timer and the link to the parent; call when the work is done. */
  dispose(): void;
}

/** A signal that aborts after `ms` on the timer (reason: a timeout DeadlineError) or with `parent`. */
export function timedSignal(
  timer: DiscoveryTimer,
  ms: number,
  parent: AbortSignal | undefined,
  what: string,
): TimedSignal {
  const controller = new AbortController();
  const cancelTimer = timer.setTimeout(
    () => controller.abort(new DeadlineError('timeout', `${what} took longer than ${ms} ms`)),
    ms,
  );
  const onParent = () => controller.abort(parent?.reason);
  if (parent?.aborted) onParent();
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      cancelTimer();
      parent?.removeEventListener('abort', onParent);
    },
  };
}

/** The reason a signal gave, as a DeadlineError. */
export function abortReason(signal: AbortSignal): DeadlineError {
  const reason: unknown = signal.reason;
  if (reason instanceof DeadlineError) return reason;
  return new DeadlineError('aborted', reason instanceof Error ? reason.message : 'stopped by the caller');
}

/**
 * The promise's outcome, or a rejection with the signal's reason as soon as it aborts, whichever
 * comes first. The work itself goes on (or stops, if it heeds the signal); nobody waits for it.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
