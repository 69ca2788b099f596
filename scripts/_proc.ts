/**
 * Process helpers for the benchmark and the scale probe: a daemon (or any server script)
 * subprocess found by the port it listens on, and its RSS and CPU time from /proc (Linux).
 *
 * @module
 */
import { RUNTIME_FLAGS } from "./compile.ts";

/** A server subprocess. */
export interface Server {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** `ws://127.0.0.1:PORT` (fluxd's --connect). */
  connect: string;
  pid: number;
  /** kill -9 (unless it is gone already); resolves with how it ended. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts `deno run <args>` and waits until it listens on a TCP port. */
export async function startServer(
  args: string[],
  env: Record<string, string> = {},
): Promise<Server> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const port = await listeningPort(child.pid);
  return {
    url: `http://127.0.0.1:${port}`,
    connect: `ws://127.0.0.1:${port}`,
    pid: child.pid,
    stop() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      return child.status;
    },
  };
}

/** The TCP port a process listens on, read from /proc (polled until it listens, at most 20 s). */
export async function listeningPort(pid: number): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const inodes = new Set<string>();
    try {
      for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`));
        if (m) inodes.add(m[1]!);
      }
    } catch { /* not started yet */ }
    for (const line of (await Deno.readTextFile("/proc/net/tcp")).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9]!)) return parseInt(f[1]!.split(":")[1]!, 16);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`process ${pid} did not listen`);
}

/** A process's resident memory (MB) and CPU time used so far (s). */
export function procStat(pid: number): { rssMb: number; cpuS: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return { rssMb: rssKb / 1024, cpuS: (Number(stat[11]) + Number(stat[12])) / 100 };
}

/** Waits `ms` (benchmarks only: they measure time). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Options of {@linkcode startDaemonServer}. */
export interface DaemonServerOptions {
  /** The entry point (any checkout's cli.ts). */
  cli: string;
  /** The fake GitHub's API URL (or an unreachable one). */
  apiUrl: string;
  /** The KV store path. */
  store: string;
  /** `deno run` permission flags. */
  permissions: readonly string[];
  /** More daemon flags. */
  extra?: string[];
}

/**
 * Starts `cli.ts daemon` for acme/app on GitHub, on a free loopback port, logging warnings only,
 * with the release's runtime flags.
 */
export function startDaemonServer(o: DaemonServerOptions): Promise<Server> {
  return startServer([
    ...RUNTIME_FLAGS,
    ...o.permissions,
    "--quiet",
    o.cli,
    "daemon",
    "--listen",
    "127.0.0.1:0",
    "--log-level",
    "warning",
    "--git-url",
    "git@github.com:acme/app.git",
    "--api-url",
    o.apiUrl,
    "--store",
    o.store,
    ...(o.extra ?? []),
  ], { GITHUB_TOKEN: "test-token" });
}
