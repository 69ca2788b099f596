/**
 * The progress `status --wait` shows on stderr: on a terminal one live line (elapsed time, each
 * status's state, the next read); in a pipe or a CI log one line per state change, and a "still
 * waiting" line whenever a minute would otherwise pass in silence (CI systems end a job that
 * prints nothing for ~10 minutes).
 *
 * @module
 */
import type { ReadStatus } from "../notifiers/notifier.ts";
import { formatDuration } from "../runtime/duration.ts";

/** Longest silence in a log, in ms. */
export const HEARTBEAT_MS = 60_000;

/** What the wait loop tells the progress display. */
export interface Progress {
  /** A status was first read, or changed state. */
  change(name: string, status: ReadStatus | undefined, elapsedMs: number): void;
  /** The loop is about to wait `ms` before the next read. */
  wait(ms: number, elapsedMs: number): void;
  /** The wait ended. */
  done(): void;
}

/**
 * Creates the display.
 *
 * @param live whether stderr is a terminal (a line rewritten in place)
 * @param write writes text to stderr
 */
export function createProgress(live: boolean, write: (text: string) => void): Progress {
  const states = new Map<string, string>();
  const summary = () => [...states].map(([n, s]) => `${n} ${s}`).join(", ");
  let lastLine = 0;
  return {
    change(name, status, elapsed) {
      states.set(name, status?.state ?? "absent");
      if (!live) {
        const why = status?.description ? ` (${status.description})` : "";
        write(`${formatDuration(elapsed)} ${name}: ${status?.state ?? "absent"}${why}\n`);
        lastLine = elapsed;
      }
    },
    wait(ms, elapsed) {
      if (live) {
        write(
          `\r\x1b[Kwaiting ${formatDuration(elapsed)}: ${summary()}, next read in ${
            formatDuration(ms)
          }`,
        );
      } else if (elapsed + ms - lastLine >= HEARTBEAT_MS) {
        // The next line could come later than a minute from the last: say so now.
        write(
          `${formatDuration(elapsed)} still waiting: ${summary()}; next read in ${
            formatDuration(ms)
          }\n`,
        );
        lastLine = elapsed;
      }
    },
    done() {
      if (live) write("\r\x1b[K");
    },
  };
}
