/**
 * Every option of every command: its rule and default (one parser per option, per command) and
 * its help and sources (`OPTION_META`) live here and nowhere else. Values come from flags, then
 * `FLUX_STATUS_<OPTION>` env vars, then (for secrets) `--<option>-file` /
 * `FLUX_STATUS_<OPTION>_FILE`.
 *
 * Plain functions, not a schema library: `status` starts ~30 ms sooner without one (ARCHITECTURE.md, "Decisions").
 *
 * @module
 */
import type { Flag } from "../cli/args.ts";
import type { SecretFile } from "./secret_files.ts";
import { parseDuration } from "../runtime/duration.ts";
import { isLoopback } from "../runtime/listen.ts";
import { GitUrlError, parseGitUrl, PROVIDERS } from "../notifiers/git_url.ts";
import { objectId } from "../sources/flux2/object_id.ts";
import type { CreateNotifierOptions } from "../notifiers/mod.ts";
import { PROVIDER_TABLE } from "../notifiers/providers.ts";

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
  /** A one-letter spelling (without `-`). */
  short?: string;
  /** Takes an optional `true`/`false` value. */
  boolean?: boolean;
  /** A secret used byte for byte: its file is not trimmed. */
  raw?: boolean;
  /** May be given several times (values add up, as a comma-separated list). */
  repeatable?: boolean;
}

/** A value refused by an option's rule; the message says what was expected. */
class Invalid extends Error {}

/** Turns a raw flag or env value (absent: undefined) into the option's value. */
type Parse<T> = (raw: string | boolean | undefined) => T;

/** One option: its rule and default (`parse`), help and sources, in one place. */
interface Option<T> extends OptionMeta {
  parse: Parse<T>;
}

const option = <T>(parse: Parse<T>, meta: OptionMeta): Option<T> => ({ parse, ...meta });

const required = (raw: string | boolean | undefined): string => {
  if (raw === undefined || String(raw).trim() === "") throw new Invalid("is required");
  return String(raw).trim();
};

const optional = <T>(parse: Parse<T>): Parse<T | undefined> => (raw) =>
  raw === undefined ? undefined : parse(raw);

const withDefault = <T>(fallback: string, parse: Parse<T>): Parse<T> => (raw) =>
  parse(raw ?? fallback);

const matching = (pattern: RegExp, message: string): Parse<string> => (raw) => {
  const text = required(raw);
  if (!pattern.test(text)) throw new Invalid(message);
  return text;
};

const oneOf = <const V extends readonly string[]>(values: V): Parse<V[number]> => (raw) => {
  const text = required(raw);
  if (!values.includes(text)) throw new Invalid(`expected one of ${values.join(", ")}`);
  return text as V[number];
};

const duration = (fallback: string, { positive = false } = {}): Parse<number> =>
  withDefault(fallback, (raw) => {
    const ms = parseDuration(String(raw));
    if (ms === undefined) throw new Invalid("expected a duration like 5s, 2m or 1h30m");
    if (positive && !(ms > 0)) throw new Invalid("must be more than 0");
    return ms;
  });

const bool = (fallback: boolean): Parse<boolean> => (raw) => {
  if (raw === undefined || typeof raw === "boolean") return raw ?? fallback;
  const t = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on", ""].includes(t)) return true;
  if (["false", "0", "no", "off"].includes(t)) return false;
  throw new Invalid("expected true or false");
};

const secret = ({ raw = false } = {}): Parse<string | undefined> =>
  optional((value) => {
    const text = raw ? String(value) : String(value).trim();
    if (text === "") throw new Invalid("must not be empty");
    return text;
  });

const httpUrl: Parse<string> = (raw) => {
  const text = required(raw);
  let protocol = "";
  try {
    protocol = new URL(text).protocol;
  } catch { /* not a URL */ }
  if (!["http:", "https:"].includes(protocol)) throw new Invalid("expected an http(s) URL");
  return text;
};

/** A comma-separated list of Kubernetes names (repeatable flags join their values so). */
const names: Parse<string[] | undefined> = (raw) => {
  if (raw === undefined) return undefined;
  const list = String(raw).split(",").map((n) => n.trim()).filter((n) => n !== "");
  const bad = list.find((n) => !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(n));
  if (bad !== undefined) throw new Invalid(`expected namespace names, not '${bad}'`);
  return list.length > 0 ? [...new Set(list)] : undefined;
};

const positiveInteger = (fallback: number): Parse<number> => (raw) => {
  if (raw === undefined) return fallback;
  const n = Number(String(raw).trim());
  if (!Number.isSafeInteger(n) || n <= 0) throw new Invalid("expected a positive whole number");
  return n;
};

const SHARED = {
  instance: option(
    withDefault(
      "default",
      matching(/^[A-Za-z0-9._-]+$/, "expected letters, digits, '.', '_' or '-'"),
    ),
    {
      help: "Instance name in the status name flux-status/<instance>/<action>",
      value: "<name>",
    },
  ),
  gitUrl: option(required, {
    help: "Remote URL of the git repository fluxd deploys",
    value: "<url>",
  }),
  provider: option(optional(oneOf(PROVIDERS)), {
    help: `Git provider (${PROVIDERS.join("|")}); auto-detected from known hosts`,
    value: "<name>",
  }),
  apiUrl: option(optional(httpUrl), {
    help:
      "API root for self-hosted providers, or the forge's address (its standard API path is added)",
    value: "<url>",
  }),
  githubToken: option(secret(), {
    help: "GitHub token with commit status access",
    value: "<token>",
    secret: true,
    env: ["GH_TOKEN", "GITHUB_TOKEN"],
  }),
  githubAppId: option(
    optional(
      matching(/^(\d+|Iv[0-9A-Za-z.]+)$/, "expected the App ID (digits) or its Client ID"),
    ),
    {
      help:
        "GitHub App ID: post statuses as the app (Commit statuses: read & write) instead of with --github-token",
      value: "<id>",
    },
  ),
  githubAppPrivateKey: option(secret(), {
    help: "The GitHub App's private key, PEM (give it as a file: --github-app-private-key-file)",
    value: "<pem>",
    secret: true,
  }),
  githubAppInstallationId: option(
    optional(matching(/^\d+$/, "expected the installation's numeric ID")),
    {
      help: "The app's installation ID; looked up from the repository when absent",
      value: "<id>",
    },
  ),
  gitlabToken: option(secret(), {
    help: "GitLab token with api scope",
    value: "<token>",
    secret: true,
    env: ["GITLAB_TOKEN"],
  }),
  azdoPat: option(secret(), {
    help: "Azure DevOps personal access token (Code: status)",
    value: "<token>",
    secret: true,
    env: ["AZDO_PAT"],
  }),
  bitbucketToken: option(secret(), {
    help:
      "Bitbucket token: Cloud API token (with --bitbucket-username) or access token; Data Center HTTP access token",
    value: "<token>",
    secret: true,
    env: ["BITBUCKET_TOKEN"],
  }),
  bitbucketUsername: option(optional(required), {
    help: "Bitbucket Cloud: the Atlassian account email of an API token (Basic auth)",
    value: "<email>",
    env: ["BITBUCKET_USERNAME"],
  }),
  giteaToken: option(secret(), {
    help: "Gitea/Forgejo access token with write:repository",
    value: "<token>",
    secret: true,
    env: ["GITEA_TOKEN"],
  }),
  caFile: option(optional(required), {
    help:
      "PEM file of CA certificates to trust for provider calls, besides the system's (HTTPS_PROXY, HTTP_PROXY and NO_PROXY apply too)",
    value: "<path>",
  }),
  logLevel: option(withDefault("info", oneOf(["debug", "info", "warning", "error"] as const)), {
    help: "Log level: debug, info, warning, error",
    value: "<level>",
  }),
  logFormat: option(optional(oneOf(["pretty", "json"] as const)), {
    help: "Log format: pretty or json (default: json unless stderr is a terminal)",
    value: "<format>",
  }),
};

const DAEMON = {
  ...SHARED,
  listen: option(
    withDefault(
      "127.0.0.1:3000",
      matching(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, "expected HOST:PORT"),
    ),
    {
      help: "Address fluxd connects to (fluxd --connect=ws://HOST:PORT)",
      value: "<host:port>",
    },
  ),
  store: option(withDefault("flux-status.kv", required), {
    help: "Path of the Deno KV file holding the outbox and watches",
    value: "<path>",
  }),
  connectToken: option(secret(), {
    help: "Token fluxd sends (fluxd --token); required on the socket and events when set",
    value: "<token>",
    secret: true,
  }),
  pollWorkloads: option(bool(true), {
    help: "Follow each sync's rollout and set the workload status",
    boolean: true,
  }),
  pollInterval: option(duration("5s", { positive: true }), {
    help: "How often to ask fluxd for workload status",
    value: "<duration>",
    aliases: ["poll-intervall"],
  }),
  pollTimeout: option(duration("360s"), {
    help: "Give up a rollout after this long (0 = never)",
    value: "<duration>",
  }),
  helmGrace: option(duration("30s"), {
    help:
      "Believe a HelmRelease's deployed/failed only this long after the sync (helm-operator refreshes it every 10s)",
    value: "<duration>",
  }),
  fluxUrl: option(withDefault("http://localhost:3030", httpUrl), {
    help: "fluxd's HTTP API, used when the WebSocket is down",
    value: "<url>",
  }),
  targetUrl: option(optional(httpUrl), { help: "Link set on every status", value: "<url>" }),
  maxEventBytes: option(positiveInteger(64 * 1024 * 1024), {
    help:
      "Largest event body accepted from fluxd, in bytes (an initial sync lists the whole history, ~115 bytes a commit)",
    value: "<bytes>",
  }),
  flux2HmacKey: option(secret({ raw: true }), {
    help:
      "Flux v2: the generic-hmac Provider's token; every /flux2/events POST must be signed with it",
    value: "<key>",
    secret: true,
    raw: true,
  }),
  flux2PendingTimeout: option(duration("20m", { positive: true }), {
    help: "Flux v2: a pending status no event settles within this long becomes failed",
    value: "<duration>",
  }),
  insecureListen: option(bool(false), {
    help:
      "Listen beyond loopback with no --connect-token or --flux2-hmac-key (anyone reaching it can set statuses)",
    boolean: true,
  }),
  metricsToken: option(secret(), {
    help:
      "When set, /metrics needs Authorization: Bearer <token> (it exposes no secret either way)",
    value: "<token>",
    secret: true,
  }),
  kubernetes: option(bool(false), {
    help: "Flux v2: read Flux's objects from the Kubernetes API; one sync/workload pair per commit",
    boolean: true,
  }),
  kubeconfig: option(optional(required), {
    help:
      "With --kubernetes: kubeconfig file (default: the pod's account, KUBECONFIG, ~/.kube/config)",
    value: "<path>",
  }),
  namespace: option(names, {
    help:
      "With --kubernetes: watch only these namespaces (repeatable or comma-separated; default all)",
    value: "<ns>",
    repeatable: true,
  }),
  leaseDuration: option(duration("15s", { positive: true }), {
    help:
      "With --kubernetes: replicas elect one writer on the Lease flux-status-<instance>; a leader silent this long is replaced",
    value: "<duration>",
  }),
  objectStatuses: option(bool(false), {
    help:
      "With --kubernetes: also a sync/workload pair per object (…/<kind>/<namespace>/<name>/<action>)",
    boolean: true,
  }),
  secretPollInterval: option(duration("10s", { positive: true }), {
    help:
      "How often secrets given as files are read again (a rotated Kubernetes Secret applies without a restart)",
    value: "<duration>",
  }),
};

const STATUS = {
  ...SHARED,
  instance: option(
    withDefault(
      "default",
      matching(
        /^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$/,
        "expected instance names (letters, digits, '.', '_' or '-'), comma-separated",
      ),
    ),
    {
      help:
        "Instance name(s) in flux-status/<instance>/<action>; several, comma-separated, gate on all (one per cluster)",
      value: "<name[,name]>",
    },
  ),
  commitId: option(matching(/^[0-9a-fA-F]{4,64}$/, "expected a commit SHA"), {
    help: "Commit SHA to read the status of",
    value: "<sha>",
  }),
  action: option(withDefault("workload", oneOf(["sync", "workload", "all"] as const)), {
    help:
      "Which status to read: sync, workload or all (all: both, or every flux-status status of the instance when the commit has Flux v2 ones)",
    value: "<action>",
  }),
  object: option(
    optional((raw) => {
      const text = matching(
        /^[A-Za-z0-9]+\/[a-z0-9.-]*\/[a-z0-9.-]+$/,
        "expected kind/namespace/name, e.g. kustomization/flux-system/apps",
      )(raw);
      const [kind, namespace, name] = text.split("/") as [string, string, string];
      return objectId(kind, namespace, name);
    }),
    {
      help:
        "Flux v2: the object whose status to read, kind/namespace/name (e.g. kustomization/flux-system/apps)",
      value: "<object>",
    },
  ),
  wait: option(bool(false), {
    help: "Wait until the status is terminal (see exit codes)",
    boolean: true,
  }),
  timeout: option(duration("10m", { positive: true }), {
    help: "With --wait: give up after this long (exit 124)",
    value: "<duration>",
  }),
  waitInterval: option(duration("5s", { positive: true }), {
    help: "With --wait: first wait between reads, growing by half up to 1m",
    value: "<duration>",
  }),
  output: option(withDefault("json", oneOf(["json", "text"] as const)), {
    help: "Output: json (one object per line) or text",
    value: "<format>",
    short: "o",
  }),
};

/** What an option's parser gives. */
type ValueOf<O> = O extends Option<infer T> ? T : never;

/** The parsed options of a command: optional options are absent when not given. */
type ConfigOf<O extends Record<string, Option<unknown>>> =
  & { [K in keyof O as undefined extends ValueOf<O[K]> ? never : K]: ValueOf<O[K]> }
  & { [K in keyof O as undefined extends ValueOf<O[K]> ? K : never]?: ValueOf<O[K]> };

/** Parsed daemon configuration. */
export type DaemonConfig = ConfigOf<typeof DAEMON>;
/** Parsed status configuration. */
export type StatusConfig = ConfigOf<typeof STATUS>;

/** The instances `status` reads: `--instance dev,prod` is two. */
export function instancesOf(config: Pick<StatusConfig, "instance">): string[] {
  return [...new Set(config.instance.split(","))];
}

/** Every command's options. */
const OPTIONS: Record<CommandName, Record<string, Option<unknown>>> = {
  daemon: DAEMON,
  status: STATUS,
};

/** Help text and sourcing of every option of every command, by key. */
export const OPTION_META: Readonly<Record<string, OptionMeta>> = { ...DAEMON, ...STATUS };

/** `pollInterval` → `poll-interval`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** `pollInterval` → `FLUX_STATUS_POLL_INTERVAL`. */
export function envName(key: string): string {
  return "FLUX_STATUS_" + flagName(key).replaceAll("-", "_").toUpperCase();
}

/** The option keys of a command, in help order. */
export function optionKeys(command: CommandName): string[] {
  return Object.keys(OPTIONS[command]);
}

/** An option's default value (undefined when it has none). */
export function optionDefault(command: CommandName, key: string): unknown {
  try {
    return OPTIONS[command][key]?.parse(undefined);
  } catch {
    return undefined; // required
  }
}

/** The flags of `command`, with their help: each option, its aliases and its `-file` twin. */
export function commandFlags(command: CommandName): Flag[] {
  return Object.entries(OPTIONS[command]).flatMap(([key, meta]) => {
    const flag = flagName(key);
    const env = [envName(key), ...(meta.env ?? [])].join(", ");
    const value = meta.boolean ? {} : { value: meta.value ?? "<value>" };
    const flags: Flag[] = [
      {
        key,
        names: [flag],
        ...(meta.short ? { short: meta.short } : {}),
        ...(meta.repeatable ? { repeatable: true } : {}),
        ...value,
        help: `${meta.help} (env ${env})`,
      },
      ...(meta.aliases ?? []).map((alias) => ({ key: camel(alias), names: [alias], ...value })),
    ];
    if (meta.secret) {
      flags.push({
        key: key + "File",
        names: [`${flag}-file`],
        value: "<path>",
        help: `Read --${flag} from a file (env ${envName(key)}_FILE)`,
      });
    }
    return flags;
  });
}

/** Where the config comes from; injected so tests never touch the real process. */
export interface ConfigSources {
  /** Raw flag values, keyed by camelCase option name (src/cli/args.ts). */
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
  const out: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(OPTIONS[command])) {
    const source = sourceOf(key, option, flags, env);
    const value = "file" in source
      ? readSecretFile(flagName(key), source.file, readTextFile, option.raw)
      : source.value;
    const raw = value === undefined || typeof value === "boolean" ? value : String(value);
    try {
      const parsed = option.parse(raw);
      if (parsed !== undefined) out[key] = parsed;
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      const shown = raw === undefined || option.secret ? "" : `: current value is '${raw}'`;
      throw new ConfigError(`--${flagName(key)} ${err.message}${shown}`);
    }
  }
  if (command === "daemon") {
    checkExposure(out as DaemonConfig);
    checkKubernetes(out as DaemonConfig);
  }
  return out as DaemonConfig | StatusConfig;
}

/**
 * A daemon config from option values alone (no env vars, no files), as the flags would give it:
 * for the demo and tests that start the daemon in-process.
 *
 * @throws {ConfigError} as {@linkcode resolveConfig}
 */
export function daemonConfig(flags: Record<string, unknown>): DaemonConfig {
  return resolveConfig("daemon", {
    flags,
    env: {},
    readTextFile: () => {
      throw new Deno.errors.NotFound("no files here");
    },
  });
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
 * The notifier options a config names: the repository from `--git-url` (and `--provider`), the
 * provider's own token and `--api-url`.
 *
 * @throws {ConfigError} on a bad git URL or a missing token, naming the flag
 */
export function notifierOptions(
  config: Pick<
    DaemonConfig,
    | "gitUrl"
    | "provider"
    | "apiUrl"
    | "githubToken"
    | "githubAppId"
    | "githubAppPrivateKey"
    | "githubAppInstallationId"
    | "gitlabToken"
    | "azdoPat"
    | "bitbucketToken"
    | "bitbucketUsername"
    | "giteaToken"
    | "caFile"
  >,
): CreateNotifierOptions {
  let remote;
  try {
    remote = parseGitUrl(config.gitUrl, config.provider, config.apiUrl);
  } catch (err) {
    if (err instanceof GitUrlError) {
      throw new ConfigError(`--git-url: ${err.message}`, { cause: err });
    }
    throw err;
  }
  if (remote.provider === "github" && config.githubAppId) {
    if (!config.githubAppPrivateKey) {
      throw new ConfigError(
        "--github-app-private-key is required with --github-app-id: pass --github-app-private-key-file or set its env var",
      );
    }
    const { githubAppId: appId, githubAppInstallationId: installationId } = config;
    return {
      remote,
      token: "",
      ...(config.apiUrl ? { apiUrl: config.apiUrl } : {}),
      ...(config.caFile ? { caFile: config.caFile } : {}),
      app: {
        appId,
        privateKey: () => config.githubAppPrivateKey ?? "",
        ...(installationId ? { installationId } : {}),
      },
    };
  }
  const key = PROVIDER_TABLE[remote.provider].tokenOption;
  if (!config[key]) {
    const flag = flagName(key);
    throw new ConfigError(
      `--${flag} is required for ${remote.provider}: pass --${flag}, --${flag}-file or set its env var`,
    );
  }
  return {
    remote,
    // Read on every call: the daemon's config reads a rotated Secret's new value.
    token: () => config[key] ?? "",
    ...(config.apiUrl ? { apiUrl: config.apiUrl } : {}),
    ...(config.caFile ? { caFile: config.caFile } : {}),
    ...(remote.provider === "bitbucket" && config.bitbucketUsername
      ? { username: config.bitbucketUsername }
      : {}),
  };
}

/** Refuses the cluster-state options without `--kubernetes`: they would silently do nothing. */
function checkKubernetes(config: DaemonConfig): void {
  if (config.kubernetes) return;
  const given = (["kubeconfig", "namespace", "objectStatuses"] as const).filter((k) =>
    config[k] !== undefined && config[k] !== false
  );
  if (given.length > 0) {
    throw new ConfigError(
      `--${
        flagName(given[0]!)
      } works only with --kubernetes (reading Flux v2 objects from the cluster): add --kubernetes`,
    );
  }
}

/** Refuses a listener beyond loopback that anyone reaching it could use to set statuses. */
function checkExposure(config: DaemonConfig): void {
  // With --kubernetes nothing posted to it sets a status: an event only makes it read the cluster.
  if (isLoopback(config.listen) || config.insecureListen || config.kubernetes) return;
  if (config.connectToken || config.flux2HmacKey) return;
  throw new ConfigError(
    `--listen ${config.listen} is reachable beyond this host, so anyone reaching it could set statuses: give --connect-token (fluxd --token) or --flux2-hmac-key (the Provider's token), or pass --insecure-listen`,
  );
}

/**
 * The secret files a config is read from (`--*-file` flags and `…_FILE` env vars), for the
 * daemon's read permissions.
 */
export function secretFiles(given: Pick<ConfigSources, "flags" | "env">): string[] {
  return secretSources(given).map((f) => f.path);
}

/**
 * The secrets whose value comes from a file (no flag or env var gives them), to be read again
 * when the file changes (src/config/secret_files.ts).
 */
export function secretSources({ flags, env }: Pick<ConfigSources, "flags" | "env">): SecretFile[] {
  return Object.entries(OPTION_META).filter(([, meta]) => meta.secret).flatMap(([key, meta]) => {
    const source = sourceOf(key, meta, flags, env);
    return "file" in source ? [{ key, path: source.file, ...(meta.raw ? { raw: true } : {}) }] : [];
  });
}

/**
 * Where an option's value comes from: a flag (or one of its aliases), else its env vars in order,
 * else (for a secret) the file its `-file` flag or `_FILE` env var names.
 */
function sourceOf(
  key: string,
  meta: OptionMeta,
  flags: ConfigSources["flags"],
  env: ConfigSources["env"],
): { value: unknown } | { file: string } {
  const flag = flags[key] ?? meta.aliases?.map((a) => flags[camel(a)]).find((v) => v !== undefined);
  if (flag !== undefined) return { value: flag };
  for (const name of [envName(key), ...(meta.env ?? [])]) {
    if (env[name] !== undefined && env[name] !== "") return { value: env[name] };
  }
  const file = meta.secret
    ? (flags[key + "File"] as string | undefined) ?? env[envName(key) + "_FILE"]
    : undefined;
  return file ? { file } : { value: undefined };
}
