/**
 * Command-line flags: argv parsed against a command's flag list, and the help text. It replaced
 * `commander` (ARCHITECTURE.md, "Decisions"): on Deno 2.9 importing commander cost ~35 ms of every `status` run and
 * 6.5 MB of the daemon's RSS, and `node:util`'s `parseArgs` cannot take the optional value of
 * `--wait [bool]`. The grammar is commander's as this CLI used it: `--flag value`, `--flag=value`,
 * a boolean flag alone or with `true`/`false`, the last of a repeated flag winning (a repeatable
 * one's values joined with commas), no positional arguments.
 *
 * @module
 */

/** One flag a command takes. */
export interface Flag {
  /** The key its value is stored under (camelCase). */
  key: string;
  /** Spellings, without `--`; the first is shown in help. */
  names: string[];
  /** A one-letter spelling, without `-` (`o` for `-o`). */
  short?: string;
  /** Placeholder of its value, e.g. `<duration>`; absent for a boolean flag. */
  value?: string;
  /** Help text; absent hides the flag from help. */
  help?: string;
  /** Given several times, its values add up (joined with `,`) instead of the last winning. */
  repeatable?: boolean;
}

/** A command line that cannot be parsed; the CLI exits with code 2. */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message what is wrong, in commander's words
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses `args` against `flags`.
 *
 * @returns the values by key: a string, or a string or `true` for a boolean flag
 * @throws {UsageError} on an unknown flag, a missing value or a positional argument
 */
export function parseFlags(
  args: string[],
  flags: Flag[],
  command: string,
): Record<string, string | boolean> {
  const byName = new Map(flags.flatMap((f) => f.names.map((n) => [n, f] as const)));
  const byShort = new Map(flags.flatMap((f) => f.short ? [[f.short, f] as const] : []));
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    // `-o json` is `--output json`.
    const short = /^-([a-zA-Z])(=.*)?$/.exec(arg);
    const shortFlag = short ? byShort.get(short[1]!) : undefined;
    const long = short && shortFlag ? `--${shortFlag.names[0]}${short[2] ?? ""}` : arg;
    if (!long.startsWith("--") || long === "--") {
      throw new UsageError(`unexpected argument '${arg}' for '${command}' (it takes flags only)`);
    }
    const eq = long.indexOf("=");
    const name = long.slice(2, eq < 0 ? undefined : eq);
    const flag = byName.get(name);
    if (!flag) throw new UsageError(`unknown option '--${name}'${suggestion(name, byName)}`);
    const put = (value: string | boolean) => {
      const held = out[flag.key];
      out[flag.key] = flag.repeatable && typeof held === "string" ? `${held},${value}` : value;
    };
    if (eq >= 0) {
      put(long.slice(eq + 1));
    } else if (!flag.value) {
      // A boolean flag takes the next argument only when it is a value, as `[bool]` did.
      const next = args[i + 1];
      put(next !== undefined && !next.startsWith("-") ? (i++, next) : true);
    } else {
      const next = args[++i];
      if (next === undefined) {
        throw new UsageError(`option '--${name} ${flag.value}' argument missing`);
      }
      put(next);
    }
  }
  return out;
}

function suggestion(name: string, known: Map<string, Flag>): string {
  let best = "", bestDistance = 3;
  for (const candidate of known.keys()) {
    const d = distance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best ? ` (did you mean --${best}?)` : "";
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        row[j]! + 1,
        next[j - 1]! + 1,
        row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length]!;
}

/** The help of one command: usage, description, then every visible flag with its help. */
export function commandHelp(
  usage: string,
  description: string,
  flags: Flag[],
  after = "",
): string {
  const rows = flags.filter((f) => f.help !== undefined).map((f) => [
    `${f.short ? `-${f.short}, ` : ""}--${f.names[0]} ${f.value ?? "[bool]"}`,
    f.help!,
  ]);
  rows.push(["-h, --help", "display help for command"]);
  return `Usage: ${usage}\n\n${description}\n\nOptions:\n${table(rows)}${after}\n`;
}

/** Two columns: the first padded, the second wrapped at 100 characters. */
export function table(rows: string[][]): string {
  const width = Math.min(36, Math.max(...rows.map(([a]) => a!.length)) + 2);
  const lines: string[] = [];
  for (const [left, right] of rows) {
    const words = right!.split(" ");
    let line = `  ${left!.padEnd(width)}`;
    if (left!.length >= width) {
      lines.push(`  ${left}`);
      line = " ".repeat(width + 2);
    }
    let empty = true;
    for (const word of words) {
      if (!empty && line.length + word.length + 1 > 100) {
        lines.push(line);
        line = " ".repeat(width + 2);
        empty = true;
      }
      line += (empty ? "" : " ") + word;
      empty = false;
    }
    lines.push(line);
  }
  return lines.join("\n") + "\n";
}
