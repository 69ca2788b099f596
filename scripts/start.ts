/**
 * `deno task start [daemon options]`: runs the daemon from source under exactly the permissions
 * its options need (`flux-status permissions`), never `-A`, with the release's runtime flags
 * (`RUNTIME_FLAGS` in scripts/compile.ts). Signals are passed on, and its exit code is this one's.
 *
 * @module
 */
import { daemonPermissions } from "../cli.ts";
import { parseFlags } from "../src/cli/args.ts";
import { commandFlags } from "../src/config/config.ts";
import { RUNTIME_FLAGS } from "./compile.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const args = Deno.args[0] === "daemon" ? Deno.args.slice(1) : Deno.args;
const permissions = await daemonPermissions(parseFlags(args, commandFlags("daemon"), "daemon"));
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", ...RUNTIME_FLAGS, ...permissions, CLI, "daemon", ...args],
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGTERM", "SIGINT"];
for (const signal of signals) Deno.addSignalListener(signal, () => child.kill(signal));
Deno.exit((await child.status).code);
