/**
 * Durations as flags and messages write them: `5s`, `2m`, `1h30m`, `250ms`.
 *
 * @module
 */

const DURATION = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration like `5s`, `2m`, `1h30m` or `250ms`; a bare number is seconds (as the
 * original tool's flags were).
 *
 * @returns milliseconds, or undefined when `text` is not a duration
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t) * 1000;
  if (!DURATION.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

/** Formats milliseconds as a short duration: `6m`, `1m30s`, `45s`, `250ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return [h ? `${h}h` : "", m ? `${m}m` : "", sec ? `${sec}s` : ""].join("") || "0s";
}
