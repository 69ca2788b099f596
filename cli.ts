/**
 * The flux-status command line: `daemon` (the fluxd sidecar) and `status` (read a commit's
 * status back). One exit path: `error: <message>` on stderr and the exit codes in README.md.
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import { getLogger } from "@logtape/logtape";
import denoJson from "./deno.json" with { type: "json" };
import { runDaemon } from "./daemon.ts";
import { addOptions, ConfigError, resolveConfig, type StatusConfig } from "./src/config.ts";
import { configureLogging } from "./src/logging.ts";
import { ProviderError, statusName } from "./src/notifiers/notifier.ts";
import { notifierFor } from "./daemon.ts";

/** Exit codes; README.md documents them. */
export const EXIT = {
  ok: 0,
  notFound: 1,
  usage: 2,
  provider: 4,
} as const;

const log = getLogger(["flux-status", "cli"]);

function sources(flags: Record<string, unknown>) {
  return {
    flags,
    env: Deno.env.toObject(),
    readTextFile: (path: string) => Deno.readTextFileSync(path),
  };
}

async function readStatus(config: StatusConfig): Promise<number> {
  const notifier = await notifierFor(config);
  const name = statusName(config.instance, config.action);
  const status = await notifier.getStatus(config.commitId, name);
  if (!status) {
    console.error(`error: no status ${name} on ${config.commitId} yet`);
    return EXIT.notFound;
  }
  console.log(JSON.stringify({
    name: status.name,
    state: status.state,
    description: status.description,
    ...(status.targetUrl ? { targetUrl: status.targetUrl } : {}),
    ...(status.updatedAt ? { updatedAt: status.updatedAt } : {}),
    commit: config.commitId,
  }));
  return EXIT.ok;
}

/** Builds the program; exported for tests of its help and options. */
export function buildProgram(run: (code: number) => void): Command {
  const program = new Command("flux-status")
    .description("Commit statuses for Flux v1 syncs and rollouts")
    .version(denoJson.version)
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showHelpAfterError(false);

  addOptions(
    program.command("daemon")
      .description("Run next to fluxd (--connect=ws://localhost:3000) and set commit statuses"),
    "daemon",
  ).action(async (flags: Record<string, unknown>) => {
    const config = resolveConfig("daemon", sources(flags));
    await configureLogging({
      level: config.logLevel,
      format: config.logFormat,
      secrets: [config.githubToken, config.gitlabToken, config.azdoPat, config.connectToken],
    });
    await runDaemon(config);
    run(EXIT.ok);
  });

  addOptions(
    program.command("status")
      .description("Print a commit's flux-status status as one JSON line"),
    "status",
  ).action(async (flags: Record<string, unknown>) => {
    const config = resolveConfig("status", sources(flags));
    await configureLogging({
      level: config.logLevel,
      format: config.logFormat,
      secrets: [config.githubToken, config.gitlabToken, config.azdoPat],
    });
    run(await readStatus(config));
  });
  return program;
}

function exitCode(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof ConfigError) return EXIT.usage;
  if (err instanceof ProviderError) return EXIT.provider;
  return 1;
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(args, { from: "user" });
    return code;
  } catch (err) {
    const exit = exitCode(err);
    if (exit !== EXIT.ok) {
      const message = err instanceof CommanderError
        ? err.message.replace(/^error: /, "")
        : err instanceof Error
        ? err.message
        : String(err);
      console.error(`error: ${message}`);
      log.debug("Cause: {cause}", { cause: err instanceof Error ? String(err.cause ?? "") : "" });
    }
    return exit;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
