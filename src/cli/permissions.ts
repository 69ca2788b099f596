/**
 * The Deno permissions the daemon needs for one configuration, and nothing more: net to the
 * address it listens on, the provider's API host and fluxd's API host (with `--kubernetes`, the
 * apiserver's); read of its token files and its store's folder (and the cluster credentials' files);
 * run of a kubeconfig's exec plugin; write of its store's folder; env (configuration is read from it). The
 * `permissions` command prints them and `deno task start` runs the daemon under them.
 *
 * @module
 */
import { splitListen } from "../runtime/listen.ts";

/** What the daemon touches. */
export interface PermissionPlan {
  /** `--listen`, `HOST:PORT`. */
  listen: string;
  /** URLs the daemon calls (provider API, fluxd's API). */
  urls: string[];
  /** The KV store's path. */
  store: string;
  /** Token and key files it reads (and re-reads). */
  files: string[];
  /** Programs it runs (a kubeconfig's exec plugin). */
  run?: string[];
}

/**
 * The `deno run` permission flags for a plan.
 *
 * @example
 * ```ts
 * denoPermissions({ listen: "127.0.0.1:3000", urls: ["https://api.github.com"], store: "/data/s.kv", files: [] });
 * // ["--allow-net=127.0.0.1:3000,api.github.com", "--allow-read=/data", "--allow-write=/data", "--allow-env", "--unstable-kv"]
 * ```
 */
export function denoPermissions(plan: PermissionPlan): string[] {
  const { hostname, port } = splitListen(plan.listen);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const net = new Set([port === 0 ? host : `${host}:${port}`]);
  for (const url of plan.urls) net.add(new URL(url).host);
  const folder = plan.store.includes("/")
    ? plan.store.slice(0, plan.store.lastIndexOf("/")) || "/"
    : ".";
  const read = new Set([folder, ...plan.files]);
  return [
    `--allow-net=${[...net].join(",")}`,
    `--allow-read=${[...read].join(",")}`,
    `--allow-write=${folder}`,
    "--allow-env",
    ...(plan.run?.length ? [`--allow-run=${plan.run.join(",")}`] : []),
    "--unstable-kv",
  ];
}
