/**
 * Log set-up for the CLI and daemon (the only callers of `configure`). Logs go to stderr, so
 * `status` keeps stdout for its JSON line. The sink masks every configured secret as a safety
 * net: the plan is still to never log one.
 *
 * @module
 */
import {
  configure,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
} from "@logtape/logtape";

/** Options for {@linkcode configureLogging}. */
export interface LoggingOptions {
  /** Lowest level written. */
  level: "debug" | "info" | "warning" | "error";
  /** `pretty` text lines or JSON lines. @default json, or pretty when stderr is a terminal */
  format?: "pretty" | "json" | undefined;
  /** Values masked as `***` wherever they appear in a line. */
  secrets: (string | undefined)[];
  /** Where lines go. @default stderr */
  write?: (line: string) => void;
}

/** Every value the sink masks: the configured secrets, and rotated values read since. */
const masked = new Set<string>();

/** Masks `value` in every log line from now on (a secret read again from its file). */
export function maskSecret(value: string): void {
  if (value.length >= 4) masked.add(value);
}

/** Configures logtape for the process. */
export async function configureLogging(options: LoggingOptions): Promise<void> {
  const { level, write = writeStderr } = options;
  const format = options.format ?? (Deno.stderr.isTerminal() ? "pretty" : "json");
  for (const s of options.secrets) if (s) maskSecret(s);
  const formatter = format === "json"
    ? getJsonLinesFormatter()
    : getTextFormatter({ value: "bare" });
  const sink = (record: LogRecord) => {
    let line = formatter(record);
    for (const s of masked) line = line.replaceAll(s, "***");
    write(line);
  };
  await configure({
    reset: true,
    sinks: { main: sink },
    loggers: [
      { category: ["flux-status"], lowestLevel: level as LogLevel, sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line));
}
