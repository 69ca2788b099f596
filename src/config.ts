/**
 * Every option of every command, in one zod schema per command: name, type, default and help
 * text live here and nowhere else. Values come from flags, then `FLUX_STATUS_<OPTION>` env vars,
 * then (for secrets) `--<option>-file` / `FLUX_STATUS_<OPTION>_FILE`.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { z } from "zod";
import { GitUrlError, parseGitUrl, type ProviderName, PROVIDERS } from "./git_url.ts";
import { objectId } from "./flux2/events.ts";
import type { CreateNotifierOptions } from "./notifiers/mod.ts";

/** A bad option value or a missing required option; the CLI exits with code 2. */
export class ConfigError extends Error {
  /**
   * Creates the error.
   *
   * @param message names the flag, the rule and the value
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** The commands that take options. */
export type CommandName = "daemon" | "status";

/** Help and sourcing facts for one option. */
export interface OptionMeta {
  /** One-line help text. */
  help: string;
  /** Placeholder shown in help, e.g. `<duration>`; absent for booleans. */
  value?: string;
  /** A secret: also read from a file, never printed. */
  secret?: boolean;
  /** Env vars read after `FLUX_STATUS_<OPTION>`, e.g. `GITHUB_TOKEN`. */
  env?: string[];
  /** Other accepted flag spellings (without `--`). */
  aliases?: string[];
  /** Takes an optional `true`/`false` value. */
  boolean?: boolean;
  /** A secret used byte for byte: its file is not trimmed. */
  raw?: boolean;
}

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

const duration = (fallback: string) =>
  z.string().default(fallback).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a duration like 5s, 2m or 1h30m` });
      return z.NEVER;
    }
    return ms;
  });

const bool = (fallback: boolean) =>
  z.union([z.boolean(), z.string()]).default(fallback).transform((v, ctx) => {
    if (typeof v === "boolean") return v;
    const t = v.trim().toLowerCase();
    if (["true", "1", "yes", "on", ""].includes(t)) return true;
    if (["false", "0", "no", "off"].includes(t)) return false;
    ctx.addIssue({ code: "custom", message: "expected true or false" });
    return z.NEVER;
  });

const secret = z.string().trim().min(1, "must not be empty").optional();
const rawSecret = z.string().min(1, "must not be empty").optional();

const httpUrl = z.string().trim().refine((v) => {
  try {
    return ["http:", "https:"].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, "expected an http(s) URL");

const shared = {
  instance: z.string().regex(/^[A-Za-z0-9._-]+$/, "expected letters, digits, '.', '_' or '-'")
    .default("default"),
  gitUrl: z.string({ error: "is required" }).trim().min(1, "is required"),
  provider: z.enum(PROVIDERS).optional(),
  apiUrl: httpUrl.optional(),
  githubToken: secret,
  gitlabToken: secret,
  azdoPat: secret,
  logLevel: z.enum(["debug", "info", "warning", "error"]).default("info"),
  logFormat: z.enum(["pretty", "json"]).optional(),
};

/**
 * The daemon's options.
 *
 * @ignore
 */
export const DaemonOptions = z.object({
  ...shared,
  listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, "expected HOST:PORT")
    .default("127.0.0.1:3000"),
  store: z.string().min(1).default("flux-status.kv"),
  connectToken: secret,
  pollWorkloads: bool(true),
  pollInterval: duration("5s").refine((ms) => ms > 0, "must be more than 0"),
  pollTimeout: duration("360s"),
  helmGrace: duration("30s"),
  fluxUrl: httpUrl.default("http://localhost:3030"),
  targetUrl: httpUrl.optional(),
  maxEventBytes: z.coerce.number().int().positive().default(64 * 1024 * 1024),
  flux2HmacKey: rawSecret,
  flux2PendingTimeout: duration("20m").refine((ms) => ms > 0, "must be more than 0"),
  insecureListen: bool(false),
  metricsToken: secret,
});

/**
 * The status command's options.
 *
 * @ignore
 */
export const StatusOptions = z.object({
  ...shared,
  commitId: z.string({ error: "is required" }).regex(
    /^[0-9a-fA-F]{4,64}$/,
    "expected a commit SHA",
  ),
  action: z.enum(["sync", "workload", "all"]).default("workload"),
  object: z.string().regex(
    /^[A-Za-z0-9]+\/[a-z0-9.-]*\/[a-z0-9.-]+$/,
    "expected kind/namespace/name, e.g. kustomization/flux-system/apps",
  ).transform((o) => {
    const [kind, namespace, name] = o.split("/") as [string, string, string];
    return objectId(kind, namespace, name);
  }).optional(),
  wait: bool(false),
  timeout: duration("10m").refine((ms) => ms > 0, "must be more than 0"),
  waitInterval: duration("5s").refine((ms) => ms > 0, "must be more than 0"),
  output: z.enum(["json", "text"]).default("json"),
});

/** Parsed daemon configuration. */
export type DaemonConfig = z.output<typeof DaemonOptions>;
/** Parsed status configuration. */
export type StatusConfig = z.output<typeof StatusOptions>;

/** Help text and sourcing of every option, keyed like the schemas. */
export const OPTION_META: Record<string, OptionMeta> = {
  instance: {
    help: "Instance name in the status name flux-status/<instance>/<action>",
    value: "<name>",
  },
  gitUrl: { help: "Remote URL of the git repository fluxd deploys", value: "<url>" },
  provider: {
    help: `Git provider (${PROVIDERS.join("|")}); auto-detected from known hosts`,
    value: "<name>",
  },
  apiUrl: {
    help: "API base URL for self-hosted providers (GitHub Enterprise: https://HOST/api/v3)",
    value: "<url>",
  },
  githubToken: {
    help: "GitHub token with commit status access",
    value: "<token>",
    secret: true,
    env: ["GITHUB_TOKEN"],
  },
  gitlabToken: {
    help: "GitLab token with api scope",
    value: "<token>",
    secret: true,
    env: ["GITLAB_TOKEN"],
  },
  azdoPat: {
    help: "Azure DevOps personal access token (Code: status)",
    value: "<token>",
    secret: true,
    env: ["AZDO_PAT"],
  },
  logLevel: { help: "Log level: debug, info, warning, error", value: "<level>" },
  logFormat: {
    help: "Log format: pretty or json (default: json unless stderr is a terminal)",
    value: "<format>",
  },
  listen: {
    help: "Address fluxd connects to (fluxd --connect=ws://HOST:PORT)",
    value: "<host:port>",
  },
  store: { help: "Path of the Deno KV file holding the outbox and watches", value: "<path>" },
  connectToken: {
    help: "Token fluxd sends (fluxd --token); required on the socket and events when set",
    value: "<token>",
    secret: true,
  },
  pollWorkloads: { help: "Follow each sync's rollout and set the workload status", boolean: true },
  pollInterval: {
    help: "How often to ask fluxd for workload status",
    value: "<duration>",
    aliases: ["poll-intervall"],
  },
  pollTimeout: { help: "Give up a rollout after this long (0 = never)", value: "<duration>" },
  helmGrace: {
    help:
      "Believe a HelmRelease's deployed/failed only this long after the sync (helm-operator refreshes it every 10s)",
    value: "<duration>",
  },
  fluxUrl: { help: "fluxd's HTTP API, used when the WebSocket is down", value: "<url>" },
  targetUrl: { help: "Link set on every status", value: "<url>" },
  maxEventBytes: {
    help:
      "Largest event body accepted from fluxd, in bytes (an initial sync lists the whole history, ~115 bytes a commit)",
    value: "<bytes>",
  },
  flux2HmacKey: {
    help:
      "Flux v2: the generic-hmac Provider's token; every /flux2/events POST must be signed with it",
    value: "<key>",
    secret: true,
    raw: true,
  },
  flux2PendingTimeout: {
    help: "Flux v2: a pending status no event settles within this long becomes failed",
    value: "<duration>",
  },
  insecureListen: {
    help:
      "Listen beyond loopback with no --connect-token or --flux2-hmac-key (anyone reaching it can set statuses)",
    boolean: true,
  },
  metricsToken: {
    help:
      "When set, /metrics needs Authorization: Bearer <token> (it exposes no secret either way)",
    value: "<token>",
    secret: true,
  },
  commitId: { help: "Commit SHA to read the status of", value: "<sha>" },
  action: {
    help:
      "Which status to read: sync, workload or all (all: both, or every flux-status status of the instance when the commit has Flux v2 ones)",
    value: "<action>",
  },
  object: {
    help:
      "Flux v2: the object whose status to read, kind/namespace/name (e.g. kustomization/flux-system/apps)",
    value: "<object>",
  },
  wait: { help: "Wait until the status is terminal (see exit codes)", boolean: true },
  timeout: { help: "With --wait: give up after this long (exit 124)", value: "<duration>" },
  waitInterval: {
    help: "With --wait: first wait between reads, growing by half up to 1m",
    value: "<duration>",
  },
  output: { help: "Output: json (one object per line) or text", value: "<format>" },
};

const SCHEMAS = { daemon: DaemonOptions, status: StatusOptions } as const;

/** `pollInterval` → `poll-interval`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** `pollInterval` → `FLUX_STATUS_POLL_INTERVAL`. */
export function envName(key: string): string {
  return "FLUX_STATUS_" + flagName(key).replaceAll("-", "_").toUpperCase();
}

function optionKeys(command: CommandName): string[] {
  return Object.keys(SCHEMAS[command].shape);
}

/**
 * Adds every option of `command` to a commander command, so help and parsing come from the schema.
 *
 * @param cmd the commander command to extend
 * @param command which schema to take the options from
 */
export function addOptions(cmd: Command, command: CommandName): Command {
  for (const key of optionKeys(command)) {
    const meta = OPTION_META[key]!;
    const flag = flagName(key);
    const env = [envName(key), ...(meta.env ?? [])].join(", ");
    const value = meta.boolean ? "[bool]" : meta.value ?? "<value>";
    cmd.addOption(new Option(`--${flag} ${value}`, `${meta.help} (env ${env})`));
    for (const alias of meta.aliases ?? []) {
      cmd.addOption(new Option(`--${alias} ${value}`).hideHelp());
    }
    if (meta.secret) {
      cmd.addOption(
        new Option(
          `--${flag}-file <path>`,
          `Read --${flag} from a file (env ${envName(key)}_FILE)`,
        ),
      );
    }
  }
  return cmd;
}

/** Where the config comes from; injected so tests never touch the real process. */
export interface ConfigSources {
  /** Raw values commander parsed, keyed by camelCase option name. */
  flags: Record<string, unknown>;
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** Reads a token file. */
  readTextFile: (path: string) => string;
}

/**
 * Resolves one command's configuration: flags > env vars > token files > defaults.
 *
 * @throws {ConfigError} naming the flag, the rule and (except for secrets) the value
 */
export function resolveConfig(command: "daemon", sources: ConfigSources): DaemonConfig;
export function resolveConfig(command: "status", sources: ConfigSources): StatusConfig;
export function resolveConfig(
  command: CommandName,
  { flags, env, readTextFile }: ConfigSources,
): DaemonConfig | StatusConfig {
  const raw: Record<string, unknown> = {};
  for (const key of optionKeys(command)) {
    const meta = OPTION_META[key]!;
    const fromFlag = flags[key] ??
      meta.aliases?.map((a) => flags[camel(a)]).find((v) => v !== undefined);
    let value: unknown = fromFlag;
    for (const name of [envName(key), ...(meta.env ?? [])]) {
      if (value === undefined && env[name] !== undefined && env[name] !== "") value = env[name];
    }
    if (value === undefined && meta.secret) {
      const file = (flags[key + "File"] as string | undefined) ?? env[envName(key) + "_FILE"];
      if (file) value = readSecretFile(flagName(key), file, readTextFile, meta.raw);
    }
    if (value !== undefined) raw[key] = value;
  }
  const parsed = SCHEMAS[command].safeParse(raw);
  if (parsed.success && command === "daemon") checkExposure(parsed.data as DaemonConfig);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? "");
    const meta = OPTION_META[key];
    const shown = raw[key] === undefined || meta?.secret ? "" : `: current value is '${raw[key]}'`;
    const message = issue.code === "invalid_type" && raw[key] === undefined
      ? "is required"
      : issue.message;
    throw new ConfigError(`--${flagName(key)} ${message}${shown}`);
  }
  return parsed.data;
}

function readSecretFile(
  flag: string,
  path: string,
  read: (path: string) => string,
  raw = false,
): string {
  try {
    const text = read(path);
    return raw ? text : text.trim();
  } catch (err) {
    const why = err instanceof Error ? err.name : "unreadable";
    throw new ConfigError(
      `Cannot read --${flag}-file '${path}' (${why}): check the path and permissions`,
    );
  }
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Every secret value set in a config (for the log sink's mask).
 *
 * @example
 * ```ts
 * secretValues({ githubToken: "ghp_x", instance: "dev" }); // ["ghp_x"]
 * ```
 */
export function secretValues(config: Record<string, unknown>): string[] {
  return Object.entries(OPTION_META)
    .filter(([key, meta]) => meta.secret && typeof config[key] === "string")
    .map(([key]) => config[key] as string);
}

/**
 * The only printable form of a config: every secret replaced by `***`.
 *
 * @example
 * ```ts
 * redactConfig({ githubToken: "ghp_x", instance: "dev" }); // { githubToken: "***", instance: "dev" }
 * ```
 */
export function redactConfig<T extends Record<string, unknown>>(config: T): T {
  const out: Record<string, unknown> = { ...config };
  for (const [key, meta] of Object.entries(OPTION_META)) {
    if (meta.secret && out[key] !== undefined) out[key] = "***";
  }
  return out as T;
}

/** Which option holds each provider's token. */
const TOKEN_OPTION: Partial<Record<ProviderName, "githubToken" | "gitlabToken" | "azdoPat">> = {
  github: "githubToken",
  gitlab: "gitlabToken",
  "azure-devops": "azdoPat",
};

/**
 * The notifier options a config names: the repository from `--git-url` (and `--provider`), the
 * provider's own token and `--api-url`.
 *
 * @throws {ConfigError} on a bad git URL or a missing token, naming the flag
 */
export function notifierOptions(
  config: Pick<
    DaemonConfig,
    "gitUrl" | "provider" | "apiUrl" | "githubToken" | "gitlabToken" | "azdoPat"
  >,
): CreateNotifierOptions {
  let remote;
  try {
    remote = parseGitUrl(config.gitUrl, config.provider);
  } catch (err) {
    if (err instanceof GitUrlError) {
      throw new ConfigError(`--git-url: ${err.message}`, { cause: err });
    }
    throw err;
  }
  const key = TOKEN_OPTION[remote.provider];
  // A provider without a token option has no notifier yet: createNotifier says so.
  const token = key ? config[key] : "";
  if (key && !token) {
    const flag = flagName(key);
    throw new ConfigError(
      `--${flag} is required for ${remote.provider}: pass --${flag}, --${flag}-file or set its env var`,
    );
  }
  return { remote, token: token ?? "", ...(config.apiUrl ? { apiUrl: config.apiUrl } : {}) };
}

/** Whether a `--listen` host is a loopback address. */
export function isLoopback(listen: string): boolean {
  const host = listen.slice(0, listen.lastIndexOf(":")).replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Refuses a listener beyond loopback that anyone reaching it could use to set statuses. */
function checkExposure(config: DaemonConfig): void {
  if (isLoopback(config.listen) || config.insecureListen) return;
  if (config.connectToken || config.flux2HmacKey) return;
  throw new ConfigError(
    `--listen ${config.listen} is reachable beyond this host, so anyone reaching it could set statuses: give --connect-token (fluxd --token) or --flux2-hmac-key (the Provider's token), or pass --insecure-listen`,
  );
}

/**
 * The secret files a config is read from (`--*-file` flags and `…_FILE` env vars), for the
 * daemon's read permissions.
 */
export function secretFiles({ flags, env }: Pick<ConfigSources, "flags" | "env">): string[] {
  return Object.entries(OPTION_META).filter(([, meta]) => meta.secret).map(([key]) =>
    (flags[key + "File"] as string | undefined) ?? env[envName(key) + "_FILE"]
  ).filter((f): f is string => !!f);
}
