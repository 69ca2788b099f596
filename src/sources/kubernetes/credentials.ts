/**
 * Where the Kubernetes API is and how to prove who we are, found as kubectl and client-go find it
 * (docs/kubernetes-api.md, "Credentials, as kubectl finds them"):
 *
 * 1. `--kubeconfig PATH` when given;
 * 2. else the pod's service account when running in one (`KUBERNETES_SERVICE_HOST`, and the token,
 *    CA and namespace files under /var/run/secrets/kubernetes.io/serviceaccount);
 * 3. else the files of `KUBECONFIG` (a `:`-separated list, merged: the first file to set a value
 *    wins), else `~/.kube/config`, at their `current-context`.
 *
 * A token file (the pod's bound token, or a kubeconfig user's `tokenFile`) is read again every
 * minute: kubelet rotates bound tokens long before they expire. An `exec` plugin's credential is
 * kept until its `expirationTimestamp`. A token never appears in an error message.
 *
 * @module
 */
import type { Clock } from "../../runtime/clock.ts";

/** The pod's service account files. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** How long a token read from a file is used before the file is read again. */
export const TOKEN_REREAD_MS = 60_000;

/** How the daemon reaches and authenticates to one apiserver. */
export interface ClusterCredentials {
  /** The apiserver's base URL, `https://host:port[/path]`. */
  server: string;
  /** PEM CA certificates to trust for it (none: the system's). */
  caCerts: string[];
  /** A client certificate and key, PEM. */
  clientCert?: { cert: string; key: string };
  /**
   * The bearer token to send now, if any; may read a file or run a plugin.
   *
   * @param fresh read the file or run the plugin again now (the apiserver refused the last one)
   */
  token(fresh?: boolean): Promise<string | undefined>;
  /** The namespace of the pod or the context, if known. */
  namespace?: string;
  /** Where the credentials came from, for logs: never a secret. */
  source: string;
  /** Every file they are read from (now or on each token re-read), for the daemon's permissions. */
  files: string[];
  /** The exec plugin's command, when one provides the token. */
  plugin?: string;
}

/** Credentials could not be found or understood; the message says which file and what to do. */
export class CredentialsError extends Error {
  /**
   * Creates the error.
   *
   * @param message what is missing or wrong, and the fix
   */
  constructor(message: string) {
    super(message);
    this.name = "CredentialsError";
  }
}

/** What {@linkcode loadCredentials} reads; injected so tests never touch the real machine. */
export interface CredentialSources {
  /** `--kubeconfig`, if given. */
  kubeconfig?: string;
  /** Environment variables (`KUBERNETES_SERVICE_HOST`, `KUBECONFIG`, `HOME`). */
  env: Record<string, string | undefined>;
  /** Reads a text file. @default Deno.readTextFile */
  readTextFile?: (path: string) => Promise<string>;
  /** The service account folder. @default SERVICE_ACCOUNT_DIR */
  serviceAccountDir?: string;
  /** Runs an exec plugin: its stdout, or throws. @default Deno.Command */
  runPlugin?: (command: string, args: string[], env: Record<string, string>) => Promise<string>;
  /** Time source for token re-reads and plugin expiry. */
  clock: Clock;
}

/**
 * Finds the apiserver and the credentials for it.
 *
 * @throws {CredentialsError} when none are found, or a file is missing or malformed
 */
export async function loadCredentials(sources: CredentialSources): Promise<ClusterCredentials> {
  const read = sources.readTextFile ?? ((p: string) => Deno.readTextFile(p));
  const { env } = sources;
  if (sources.kubeconfig) return await fromKubeconfig([sources.kubeconfig], sources, read);
  if (env.KUBERNETES_SERVICE_HOST) return await inCluster(sources, read);
  const paths = env.KUBECONFIG?.split(":").filter((p) => p !== "") ?? [];
  if (paths.length === 0) {
    if (!env.HOME) {
      throw new CredentialsError(
        "Cannot find the Kubernetes API: not in a pod, and no --kubeconfig, KUBECONFIG or HOME",
      );
    }
    paths.push(`${env.HOME}/.kube/config`);
  }
  return await fromKubeconfig(paths, sources, read);
}

async function inCluster(
  sources: CredentialSources,
  read: (path: string) => Promise<string>,
): Promise<ClusterCredentials> {
  const dir = sources.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = sources.env.KUBERNETES_SERVICE_HOST!;
  const port = sources.env.KUBERNETES_SERVICE_PORT ?? "443";
  const ca = await readNamed(read, `${dir}/ca.crt`, "the service account's CA");
  const namespace = (await read(`${dir}/namespace`).catch(() => "")).trim();
  // Checked now so a pod without a mounted token says so at start, not on the first call.
  await readNamed(read, `${dir}/token`, "the service account's token");
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    caCerts: [ca],
    token: fileToken(`${dir}/token`, read, sources.clock),
    ...(namespace ? { namespace } : {}),
    source: `the pod's service account (${dir})`,
    files: [`${dir}/ca.crt`, `${dir}/namespace`, `${dir}/token`],
  };
}

/** A kubeconfig's parts flux-status uses, after merging. */
interface Kubeconfig {
  currentContext?: string;
  contexts: Map<string, Record<string, unknown>>;
  clusters: Map<string, { entry: Record<string, unknown>; dir: string }>;
  users: Map<string, { entry: Record<string, unknown>; dir: string }>;
}

async function fromKubeconfig(
  paths: string[],
  sources: CredentialSources,
  readFile: (path: string) => Promise<string>,
): Promise<ClusterCredentials> {
  const files = new Set<string>();
  const read = (path: string) => {
    files.add(path);
    return readFile(path);
  };
  const merged: Kubeconfig = { contexts: new Map(), clusters: new Map(), users: new Map() };
  let found = 0;
  for (const path of paths) {
    let text: string;
    try {
      text = await read(path);
    } catch (err) {
      // KUBECONFIG may list files that do not exist; an explicit --kubeconfig must.
      if (paths.length > 1 && err instanceof Deno.errors.NotFound) continue;
      throw new CredentialsError(
        `Cannot read the kubeconfig '${path}' (${errName(err)}): check the path and permissions`,
      );
    }
    found++;
    mergeKubeconfig(merged, await parseKubeconfig(text, path), dirOf(path));
  }
  const where = paths.join(":");
  if (found === 0) throw new CredentialsError(`Cannot read any kubeconfig of '${where}'`);
  const contextName = merged.currentContext;
  const context = contextName ? merged.contexts.get(contextName) : undefined;
  if (!context) {
    throw new CredentialsError(
      `The kubeconfig '${where}' has no current context${
        contextName ? ` named '${contextName}'` : ""
      }: run kubectl config use-context`,
    );
  }
  const cluster = merged.clusters.get(String(context.cluster ?? ""));
  if (!cluster || typeof cluster.entry.server !== "string") {
    throw new CredentialsError(
      `The kubeconfig '${where}' has no cluster with a server for context '${contextName}'`,
    );
  }
  const c = cluster.entry;
  if (c["insecure-skip-tls-verify"] === true) {
    throw new CredentialsError(
      `The kubeconfig '${where}' skips TLS verification for '${context.cluster}', which flux-status does not do: give the cluster's certificate-authority`,
    );
  }
  const caCerts: string[] = [];
  if (typeof c["certificate-authority-data"] === "string") {
    caCerts.push(decodeBase64(c["certificate-authority-data"], "certificate-authority-data"));
  } else if (typeof c["certificate-authority"] === "string") {
    const path = resolvePath(c["certificate-authority"], cluster.dir);
    caCerts.push(await readNamed(read, path, "the cluster's certificate-authority"));
  }
  const user = merged.users.get(String(context.user ?? ""))?.entry ?? {};
  const userDir = merged.users.get(String(context.user ?? ""))?.dir ?? "";
  const clientCert = await clientCertOf(user, userDir, read);
  const tokenFile = user.tokenFile ?? user["token-file"];
  if (typeof tokenFile === "string" && tokenFile !== "") files.add(resolvePath(tokenFile, userDir));
  const plugin = (user.exec as { command?: unknown } | undefined)?.command;
  return {
    server: String(c.server).replace(/\/+$/, ""),
    caCerts,
    ...(clientCert ? { clientCert } : {}),
    token: userToken(user, userDir, sources, read),
    ...(typeof context.namespace === "string" ? { namespace: context.namespace } : {}),
    source: `the kubeconfig '${where}', context '${contextName}'`,
    files: [...files],
    ...(typeof plugin === "string" && plugin !== "" ? { plugin } : {}),
  };
}

async function parseKubeconfig(text: string, path: string): Promise<Record<string, unknown>> {
  // A JSON kubeconfig (YAML's subset, which kubectl takes too) needs no YAML parser.
  if (text.trimStart().startsWith("{")) {
    try {
      return checkMapping(JSON.parse(text), path);
    } catch (err) {
      if (err instanceof CredentialsError) throw err;
      // Not JSON after all: YAML's flow style, read below.
    }
  }
  // Loaded only here: a daemon in a pod (service account) or without --kubernetes never needs it.
  // js-yaml, not yaml: +3.5 MiB of RSS and ~12 ms to import against +11 MiB and ~70 ms
  // (ARCHITECTURE.md, "Decisions").
  const { load } = await import("js-yaml") as { load(text: string): unknown };
  let doc: unknown;
  try {
    doc = load(text);
  } catch (err) {
    throw new CredentialsError(`The kubeconfig '${path}' is not YAML: ${errName(err)}`);
  }
  return checkMapping(doc, path);
}

function checkMapping(doc: unknown, path: string): Record<string, unknown> {
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new CredentialsError(`The kubeconfig '${path}' is not a kubeconfig (expected a mapping)`);
  }
  return doc as Record<string, unknown>;
}

/** Merges one file into `into`: the first file to set a value or a named entry wins. */
function mergeKubeconfig(into: Kubeconfig, doc: Record<string, unknown>, dir: string): void {
  if (into.currentContext === undefined && typeof doc["current-context"] === "string") {
    if (doc["current-context"] !== "") into.currentContext = doc["current-context"];
  }
  for (
    const [list, field] of [["contexts", "context"], ["clusters", "cluster"], ["users", "user"]]
  ) {
    const entries = Array.isArray(doc[list!]) ? doc[list!] as Record<string, unknown>[] : [];
    for (const e of entries) {
      const name = typeof e?.name === "string" ? e.name : undefined;
      const value = e?.[field!];
      if (!name || typeof value !== "object" || value === null) continue;
      const map = into[list as "contexts" | "clusters" | "users"] as Map<string, unknown>;
      if (map.has(name)) continue;
      map.set(
        name,
        list === "contexts" ? value : { entry: value as Record<string, unknown>, dir },
      );
    }
  }
}

async function clientCertOf(
  user: Record<string, unknown>,
  dir: string,
  read: (path: string) => Promise<string>,
): Promise<{ cert: string; key: string } | undefined> {
  const pem = async (field: string) => {
    if (typeof user[`${field}-data`] === "string") {
      return decodeBase64(user[`${field}-data`] as string, `${field}-data`);
    }
    if (typeof user[field] === "string") {
      return await readNamed(read, resolvePath(user[field] as string, dir), `the user's ${field}`);
    }
    return undefined;
  };
  const cert = await pem("client-certificate");
  const key = await pem("client-key");
  if (!cert && !key) return undefined;
  if (!cert || !key) {
    throw new CredentialsError(
      "The kubeconfig's user has a client certificate or key without the other: give both",
    );
  }
  return { cert, key };
}

function userToken(
  user: Record<string, unknown>,
  dir: string,
  sources: CredentialSources,
  read: (path: string) => Promise<string>,
): (fresh?: boolean) => Promise<string | undefined> {
  if (typeof user.token === "string" && user.token !== "") {
    const token = user.token;
    return () => Promise.resolve(token);
  }
  const file = user.tokenFile ?? user["token-file"];
  if (typeof file === "string" && file !== "") {
    return fileToken(resolvePath(file, dir), read, sources.clock);
  }
  if (typeof user.exec === "object" && user.exec !== null) {
    return execToken(user.exec as Record<string, unknown>, sources);
  }
  if (user["auth-provider"] !== undefined || user.username !== undefined) {
    throw new CredentialsError(
      "The kubeconfig's user authenticates with an auth-provider or a password, which flux-status does not support: use a token, tokenFile, client certificate or exec plugin",
    );
  }
  return () => Promise.resolve(undefined);
}

/**
 * A token read from `path`, and read again once it is {@linkcode TOKEN_REREAD_MS} old, or at once
 * when asked for a fresh one.
 */
export function fileToken(
  path: string,
  read: (path: string) => Promise<string>,
  clock: Clock,
): (fresh?: boolean) => Promise<string> {
  let cached: { token: string; at: number } | undefined;
  return async (fresh = false) => {
    const now = clock.now();
    if (cached && !fresh && now - cached.at < TOKEN_REREAD_MS) return cached.token;
    try {
      cached = { token: (await read(path)).trim(), at: now };
    } catch (err) {
      // A rotation replaces the file; keep the last token rather than send none.
      if (!cached) {
        throw new CredentialsError(`Cannot read the token file '${path}' (${errName(err)})`);
      }
    }
    return cached.token;
  };
}

function execToken(
  exec: Record<string, unknown>,
  sources: CredentialSources,
): (fresh?: boolean) => Promise<string | undefined> {
  const command = typeof exec.command === "string" ? exec.command : "";
  if (!command) throw new CredentialsError("The kubeconfig's exec plugin names no command");
  const args = Array.isArray(exec.args) ? exec.args.map(String) : [];
  const env: Record<string, string> = {};
  for (const e of Array.isArray(exec.env) ? exec.env : []) {
    if (typeof e?.name === "string") env[e.name] = String(e.value ?? "");
  }
  const run = sources.runPlugin ?? runPlugin;
  let cached: { token: string; until: number } | undefined;
  return async (fresh = false) => {
    const now = sources.clock.now();
    if (cached && !fresh && now < cached.until) return cached.token;
    const out = await run(command, args, env);
    let status: Record<string, unknown> | undefined;
    try {
      status = JSON.parse(out)?.status;
    } catch { /* reported below */ }
    if (typeof status?.token !== "string") {
      throw new CredentialsError(
        `The kubeconfig's exec plugin '${command}' printed no ExecCredential with a token`,
      );
    }
    const expires = typeof status.expirationTimestamp === "string"
      ? Date.parse(status.expirationTimestamp)
      : NaN;
    // Without an expiry the credential is asked for again each minute.
    const until = Number.isNaN(expires) ? now + TOKEN_REREAD_MS : expires - 10_000;
    cached = { token: status.token, until };
    return status.token;
  };
}

async function runPlugin(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  const out = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "null" })
    .output();
  if (!out.success) {
    throw new CredentialsError(`The kubeconfig's exec plugin '${command}' exited ${out.code}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function readNamed(
  read: (path: string) => Promise<string>,
  path: string,
  what: string,
): Promise<string> {
  try {
    return await read(path);
  } catch (err) {
    throw new CredentialsError(`Cannot read ${what} '${path}' (${errName(err)})`);
  }
}

function decodeBase64(data: string, field: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  } catch {
    throw new CredentialsError(`The kubeconfig's ${field} is not base64`);
  }
}

function resolvePath(path: string, dir: string): string {
  return path.startsWith("/") || dir === "" ? path : `${dir}/${path}`;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : path.slice(0, i) || "/";
}

function errName(err: unknown): string {
  return err instanceof Error ? err.name : "unreadable";
}
