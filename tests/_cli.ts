/**
 * Test helpers that run the real entry point, `deno run cli.ts`, as a subprocess (deployctl's
 * tests/utils.ts shape) and collect everything it prints. It runs with the permissions and the
 * runtime flags release binaries bake in (scripts/compile.ts), so the suite proves they are enough
 * and tests what ships.
 *
 * @module
 */

import { PERMISSIONS, RUNTIME_FLAGS } from "../scripts/compile.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/**
 * `deno` and `args` as a command, run through `wrap` when given (a command that ends by running
 * the rest of its arguments, e.g. `unshare … sh -c '…; exec "$@"' sh`).
 */
function command(args: string[], wrap: readonly string[] = []): [string, string[]] {
  const [first, ...rest] = [...wrap, Deno.execPath(), ...args];
  return [first!, rest];
}

/** Runs a one-shot CLI command to completion (through `wrap`, when given). */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  wrap?: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, cmdArgs] = command(
    ["run", ...RUNTIME_FLAGS, ...PERMISSIONS, "--quiet", CLI, ...args],
    wrap,
  );
  const out = await new Deno.Command(cmd, {
    args: cmdArgs,
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A daemon subprocess. */
export interface DaemonProcess extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT`, for fluxd's --connect. */
  connect: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Its process ID. */
  pid: number;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** Resolves once a printed line matches. */
  waitForLine(pattern: RegExp): Promise<string>;
  /** kill -9. */
  kill(): Promise<void>;
  /** SIGTERM, then waits for exit; returns the exit code. */
  terminate(): Promise<number>;
}

/**
 * Starts `cli.ts daemon` on a free port and waits until it listens.
 *
 * @param permissions the `deno run` permission flags; the release binaries' by default
 * @param wrap a command to run it through (see {@linkcode runCli})
 */
export async function startDaemonProcess(
  args: string[],
  env: Record<string, string> = {},
  permissions: readonly string[] = PERMISSIONS,
  wrap?: readonly string[],
): Promise<DaemonProcess> {
  const [cmd, cmdArgs] = command([
    "run",
    ...RUNTIME_FLAGS,
    ...permissions,
    "--quiet",
    CLI,
    "daemon",
    "--listen",
    "127.0.0.1:0",
    "--log-format",
    "json",
    ...args,
  ], wrap);
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const listeners = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      for (const l of [...listeners]) l();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    for (const l of [...listeners]) l();
    return s;
  });

  const waitForLine = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = text.split("\n").find((l) => pattern.test(l));
        if (line) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(line);
        } else if (exited) {
          listeners.delete(check);
          clearTimeout(timer);
          reject(new Error(`daemon exited before printing ${pattern}:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`daemon did not print ${pattern} in time:\n${text}`));
      }, 30_000);
      listeners.add(check);
      check();
    });

  const listening = await waitForLine(/Listening on/);
  const port = Number(JSON.parse(listening).properties.port);
  const finish = async () => {
    await status;
    await pumps;
  };
  return {
    connect: `ws://127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    output: () => text,
    waitForLine,
    async kill() {
      if (!exited) child.kill("SIGKILL");
      await finish();
    },
    async terminate() {
      if (!exited) child.kill("SIGTERM");
      const s = await status;
      await pumps;
      return s.code;
    },
    async [Symbol.asyncDispose]() {
      if (!exited) child.kill("SIGKILL");
      await finish();
    },
  };
}
