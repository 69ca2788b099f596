/**
 * What to say of a caught value in a log line or an answer.
 *
 * @module
 */

/**
 * An error's message, or the value as text when something other than an Error was thrown.
 *
 * @example
 * ```ts
 * errorText(new Error("boom")); // "boom"
 * ```
 */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
