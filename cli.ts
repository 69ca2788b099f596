/**
 * The flux-status command line: `daemon` (the fluxd sidecar), `status` (read a commit's status
 * back, or wait for it as a CI gate) and `version`. One exit path: `error: <message>` on stderr
 * and the exit codes in README.md (src/cli/gate.ts).
 *
 * @module
 */
import { commandHelp, parseFlags, table, UsageError } from "./src/cli/args.ts";
import {
  commandFlags,
  type CommandName,
  ConfigError,
  instancesOf,
  notifierOptions,
  resolveConfig,
  secretFiles,
  secretSources,
  secretValues,
  type StatusConfig,
} from "./src/config/config.ts";
import { formatDuration } from "./src/runtime/duration.ts";
import { EXIT_CODES, exitCodeFor, waitForStatuses } from "./src/cli/gate.ts";
import { apiUrlFor } from "./src/notifiers/providers.ts";
import { createNotifier } from "./src/notifiers/mod.ts";
import { denoPermissions } from "./src/cli/permissions.ts";
import { createProgress } from "./src/cli/progress.ts";
import {
  type Notifier,
  NotifierError,
  ProviderError,
  type ReadStatus,
  statusName,
  statusPrefix,
} from "./src/notifiers/notifier.ts";
import { COMMIT, VERSION } from "./src/runtime/version.ts";
import { errorText } from "./src/runtime/error_text.ts";

/**
 * Sets up logging; loaded on demand, as the logging library costs `status` ~30 ms of start-up
 * (its Node flavour initialises Deno's Node compatibility layer) and `status` logs only at debug.
 */
async function startLogging(config: Pick<StatusConfig, "logLevel" | "logFormat">) {
  const { configureLogging } = await import("./src/runtime/logging.ts");
  await configureLogging({
    level: config.logLevel,
    format: config.logFormat,
    secrets: secretValues(config),
  });
  const { getLogger } = await import("@logtape/logtape");
  const log = getLogger(["flux-status", "cli"]);
  debugCause = (err) =>
    log.debug("Cause: {cause}", { cause: err instanceof Error ? String(err.cause ?? "") : "" });
}

/** Logs an error's cause at debug, once logging is set up. */
let debugCause: (err: unknown) => void = () => {};

const EXIT_HELP = `
Exit codes of status:
  without --wait  0 the status was found and printed, 1 no such status yet
  with --wait     0 succeeded, 1 failed, 3 canceled (superseded),
                  124 --timeout passed while pending or absent
  always          2 bad flag or configuration, 4 provider or token error`;

function sources(flags: Record<string, unknown>) {
  return {
    flags,
    env: Deno.env.toObject(),
    readTextFile: (path: string) => Deno.readTextFileSync(path),
  };
}

function render(
  config: StatusConfig,
  name: string,
  status: ReadStatus | undefined,
): string {
  if (config.output === "text") {
    return status
      ? `${name}: ${status.state}${status.description ? ` - ${status.description}` : ""}`
      : `${name}: absent`;
  }
  return JSON.stringify(
    status
      ? {
        name: status.name,
        state: status.state,
        description: status.description,
        ...(status.targetUrl ? { targetUrl: status.targetUrl } : {}),
        ...(status.updatedAt ? { updatedAt: status.updatedAt } : {}),
        commit: config.commitId,
      }
      : { name, state: "absent", commit: config.commitId },
  );
}

async function readStatus(config: StatusConfig): Promise<number> {
  const notifier = await createNotifier({ ...notifierOptions(config), env: Deno.env.toObject() });
  const read = (name: string, signal?: AbortSignal) =>
    notifier.getStatus(config.commitId, name, signal);

  if (!config.wait) {
    const names = await statusNames(config, notifier);
    const found = await Promise.all(names.map((n) => read(n)));
    const missing = names.filter((_, i) => !found[i]);
    for (const [i, name] of names.entries()) {
      if (found[i]) console.log(render(config, name, found[i]));
    }
    if (missing.length > 0) {
      console.error(`error: no status ${missing.join(", ")} on ${config.commitId} yet`);
      return EXIT_CODES.failed;
    }
    return EXIT_CODES.succeeded;
  }

  const encoder = new TextEncoder();
  const progress = createProgress(
    Deno.stderr.isTerminal(),
    (text) => Deno.stderr.writeSync(encoder.encode(text)),
  );
  const result = await waitForStatuses({
    read,
    names: (signal) => statusNames(config, notifier, signal),
    timeoutMs: config.timeout,
    intervalMs: config.waitInterval,
    onChange: (name, status, elapsed) => progress.change(name, status, elapsed),
    onWait: (ms, elapsed) => progress.wait(ms, elapsed),
  });
  progress.done();
  const { names } = result;
  for (const name of names) console.log(render(config, name, result.statuses.get(name)));
  if (result.timedOut) {
    console.error(
      `error: timed out after ${formatDuration(config.timeout)} waiting for ${
        names.length > 0 ? names.join(", ") : `the statuses of ${config.commitId}`
      }`,
    );
    if (names.length === 0) return EXIT_CODES.timedOut;
  }
  return exitCodeFor(names.map((n) => result.statuses.get(n)?.state));
}

/**
 * The status names `status` reads: one action (of `--object` when given); with `--action all`,
 * both actions of the object, or every flux-status status of the instance on the commit when it
 * has Flux v2 ones (names with an object), else Flux v1's sync and workload.
 */
async function statusNames(
  config: StatusConfig,
  notifier: Notifier,
  signal?: AbortSignal,
): Promise<string[]> {
  const names = await Promise.all(
    instancesOf(config).map((instance) => instanceNames(config, instance, notifier, signal)),
  );
  return names.flat();
}

/** {@linkcode statusNames} of one instance. */
async function instanceNames(
  config: StatusConfig,
  instance: string,
  notifier: Notifier,
  signal?: AbortSignal,
): Promise<string[]> {
  const { object } = config;
  if (config.action !== "all") return [statusName(instance, config.action, object)];
  const pair = (["sync", "workload"] as const).map((a) => statusName(instance, a, object));
  if (object) return pair;
  const prefix = statusPrefix(instance);
  const found = await notifier.listStatuses(config.commitId, prefix, signal);
  const perObject = found.map((s) => s.name).filter((n) => n.slice(prefix.length).includes("/"));
  return perObject.length > 0 ? [...new Set([...found.map((s) => s.name)])].sort() : pair;
}

/** A command: its help, and what it does with its parsed flags (resolving to the exit code). */
interface CommandSpec {
  description: string;
  /** Whose options it takes; none for `version`. */
  options?: CommandName;
  after?: string;
  run(flags: Record<string, string | boolean>): Promise<number> | number;
}

const COMMANDS: Record<string, CommandSpec> = {
  daemon: {
    description: "Run next to fluxd (--connect=ws://localhost:3000) and set commit statuses",
    options: "daemon",
    async run(flags) {
      const given = sources(flags);
      const config = resolveConfig("daemon", given);
      await startLogging(config);
      // Loaded only for this command: `status` never loads the daemon.
      const { runDaemon } = await import("./daemon.ts");
      await runDaemon(config, secretSources(given));
      return EXIT_CODES.succeeded;
    },
  },
  status: {
    description: "Print a commit's flux-status status (one JSON object per line), or wait for it",
    options: "status",
    after: EXIT_HELP,
    async run(flags) {
      const config = resolveConfig("status", sources(flags));
      if (config.logLevel === "debug") await startLogging(config);
      return await readStatus(config);
    },
  },
  permissions: {
    description:
      "Print the Deno permission flags the daemon needs with these options (deno run <flags> cli.ts daemon …)",
    options: "daemon",
    async run(flags) {
      console.log((await daemonPermissions(flags)).join(" "));
      return EXIT_CODES.succeeded;
    },
  },
  version: {
    description: "Print the version, the git commit it was built from and the Deno version",
    async run() {
      console.log(
        `flux-status ${VERSION} (commit ${await sourceCommit()}, deno ${Deno.version.deno})`,
      );
      return EXIT_CODES.succeeded;
    },
  },
};

/** The help of the whole program. */
function programHelp(): string {
  const commands = Object.entries(COMMANDS).map((
    [name, c],
  ) => [`${name}${c.options ? " [options]" : ""}`, c.description]);
  commands.push(["help [command]", "display help for command"]);
  return `Usage: flux-status [options] [command]

Commit statuses for Flux deployments (v2 and v1): did the manifests apply, did the workloads roll out

Options:
${
    table([["-V, --version", "output the version number"], [
      "-h, --help",
      "display help for command",
    ]])
  }
Commands:
${table(commands)}`;
}

function helpOf(name: string): string {
  const c = COMMANDS[name]!;
  const flags = c.options ? commandFlags(c.options) : [];
  return commandHelp(`flux-status ${name} [options]`, c.description, flags, c.after);
}

/**
 * The permission flags of the daemon with these options: listen address, provider and fluxd API
 * hosts (with `--kubernetes`, the apiserver found as the daemon will find it), store folder,
 * secret files and cluster credential files.
 *
 * @throws {ConfigError} when the options cannot work
 * @throws {CredentialsError} with `--kubernetes`, when no cluster credentials are found
 */
export async function daemonPermissions(flags: Record<string, unknown>): Promise<string[]> {
  const given = sources(flags);
  const config = resolveConfig("daemon", given);
  const { remote, apiUrl } = notifierOptions(config);
  const provider = apiUrlFor(remote, apiUrl);
  const cluster = config.kubernetes ? await clusterCredentials(config.kubeconfig) : undefined;
  return denoPermissions({
    listen: config.listen,
    urls: [
      ...(provider ? [provider] : []),
      ...(cluster ? [cluster.server] : [config.fluxUrl]),
    ],
    store: config.store,
    files: [
      ...secretFiles(given),
      ...(config.caFile ? [config.caFile] : []),
      ...(cluster?.files ?? []),
    ],
    ...(cluster?.plugin ? { run: [cluster.plugin] } : {}),
  });
}

/** Where `--kubernetes` finds the apiserver (loaded only then: `status` never needs it). */
async function clusterCredentials(kubeconfig: string | undefined) {
  const { loadCredentials } = await import("./src/sources/kubernetes/credentials.ts");
  const { systemClock } = await import("./src/runtime/clock.ts");
  return await loadCredentials({
    ...(kubeconfig ? { kubeconfig } : {}),
    env: Deno.env.toObject(),
    clock: systemClock,
  });
}

/** The stamped commit of a release binary; from source, what git says (when it can). */
async function sourceCommit(): Promise<string> {
  if (COMMIT !== "unknown") return COMMIT;
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short=12", "HEAD"],
      cwd: new URL(".", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    const sha = new TextDecoder().decode(out.stdout).trim();
    return out.success && sha ? `${sha} (source)` : COMMIT;
  } catch {
    return COMMIT;
  }
}

function exitCode(err: unknown): number {
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof NotifierError) {
    return EXIT_CODES.usage;
  }
  if (err instanceof ProviderError) return EXIT_CODES.provider;
  // `--kubernetes` found no usable cluster credentials (named apart: cli.ts loads no daemon code).
  if (err instanceof Error && err.name === "CredentialsError") return EXIT_CODES.usage;
  return 1;
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  try {
    if (name === "-V" || name === "--version") {
      console.log(VERSION);
      return EXIT_CODES.succeeded;
    }
    if (name === undefined) {
      console.error(programHelp());
      return EXIT_CODES.usage;
    }
    if (name === "-h" || name === "--help" || name === "help") {
      const topic = name === "help" ? rest[0] : undefined;
      if (topic !== undefined && !(topic in COMMANDS)) {
        throw new UsageError(`unknown command '${topic}'`);
      }
      console.log(topic ? helpOf(topic) : programHelp());
      return EXIT_CODES.succeeded;
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name]! : undefined;
    if (!command) throw new UsageError(`unknown command '${name}'`);
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(helpOf(name));
      return EXIT_CODES.succeeded;
    }
    const flags = parseFlags(rest, command.options ? commandFlags(command.options) : [], name);
    return await command.run(flags);
  } catch (err) {
    const exit = exitCode(err);
    console.error(`error: ${errorText(err)}`);
    debugCause(err);
    return exit;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
