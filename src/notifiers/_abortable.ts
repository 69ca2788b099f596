/**
 * Releasing a caller when its signal aborts, for calls that cannot be cancelled themselves (an
 * SDK without AbortSignal support, a turn in a queue).
 *
 * @module
 */

/**
 * Settles with `promise`, or rejects with the signal's reason as soon as `signal` aborts; the
 * work behind `promise` goes on and its result is ignored.
 *
 * @param promise the call
 * @param signal the caller's signal, if any
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
