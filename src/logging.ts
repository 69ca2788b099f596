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

/** Configures logtape for the process. */
export async function configureLogging(options: LoggingOptions): Promise<void> {
  const { level, write = writeStderr } = options;
  const format = options.format ?? (Deno.stderr.isTerminal() ? "pretty" : "json");
  const secrets = options.secrets.filter((s): s is string => !!s && s.length >= 4);
  const formatter = format === "json"
    ? getJsonLinesFormatter()
    : getTextFormatter({ value: "bare" });
  const sink = (record: LogRecord) => {
    let line = formatter(record);
    for (const s of secrets) line = line.replaceAll(s, "***");
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
