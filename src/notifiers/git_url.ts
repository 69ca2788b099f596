/**
 * Parses git remote URLs of every provider flux-status knows (docs/providers.md, "Remote URLs") into
 * the coordinates their APIs need. Credentials, queries, fragments and ssh ports are dropped;
 * explicit https ports are kept.
 *
 * @module
 */

/** The git providers flux-status can talk to. */
export const PROVIDERS = [
  "github",
  "gitlab",
  "azure-devops",
  "bitbucket",
  "bitbucket-server",
  "gitea",
] as const;

/** One of {@linkcode PROVIDERS}. */
export type ProviderName = typeof PROVIDERS[number];

/** A repository's coordinates, parsed from its remote URL. */
export interface GitRemote {
  /** Which provider hosts it. */
  provider: ProviderName;
  /** Web origin, `https://host[:port]` (ssh remotes become https without their port). */
  origin: string;
  /** Path before the repository coordinates: a sub-path, context path or Azure Server root. */
  basePath: string;
  /**
   * The owner: GitHub/Gitea owner, GitLab namespace (`group/sub`), Bitbucket workspace, Bitbucket
   * Data Center project key, Azure DevOps organization or collection.
   */
  owner: string;
  /** Azure DevOps project; undefined elsewhere. */
  project?: string;
  /** Repository name (slug). */
  repo: string;
}

/** The git URL could not be understood. */
export class GitUrlError extends Error {
  /**
   * Creates the error.
   *
   * @param message what is wrong and how to fix it
   */
  constructor(message: string) {
    super(message);
    this.name = "GitUrlError";
  }
}

interface Parts {
  scheme: string;
  host: string;
  port: string;
  segments: string[];
}

const HOST_PROVIDERS: [RegExp, ProviderName][] = [
  [/^(ssh\.)?github\.com$/, "github"],
  [/^[^.]+\.ghe\.com$/, "github"],
  [/^(altssh\.)?gitlab\.com$/, "gitlab"],
  [
    /^(dev\.azure\.com|ssh\.dev\.azure\.com|vs-ssh\.visualstudio\.com|[^.]+\.visualstudio\.com)$/,
    "azure-devops",
  ],
  [/^bitbucket\.org$/, "bitbucket"],
];

/**
 * The web host of a provider's ssh-only host: GitHub's and GitLab's documented ssh over port 443
 * (`ssh.github.com`, `altssh.gitlab.com`) serve the repositories of `github.com` and `gitlab.com`.
 */
const SSH_ONLY_HOSTS: Record<string, string> = {
  "ssh.github.com": "github.com",
  "altssh.gitlab.com": "gitlab.com",
};

/**
 * Parses a git remote URL.
 *
 * @param url https, http, ssh, git or scp-style (`git@host:path`, `git@[::1]:path`) remote URL
 * @param provider the provider, required for hosts that cannot be recognised
 * @param apiUrl the API root when given (`--api-url`): a GitLab served under a path prefix
 *   (`https://example.com/gitlab/api/v4`) has that prefix in its https remotes, before the
 *   project path
 * @returns the repository's coordinates
 * @throws {GitUrlError} when the URL is malformed or the provider cannot be told
 * @example
 * ```ts
 * parseGitUrl("git@github.com:org/app.git"); // { provider: "github", owner: "org", repo: "app", … }
 * ```
 */
export function parseGitUrl(url: string, provider?: ProviderName, apiUrl?: string): GitRemote {
  const parts = splitUrl(url.trim());
  const chosen = provider ?? detectProvider(parts, url);
  const origin = parts.scheme === "https" || parts.scheme === "http"
    ? `${parts.scheme}://${parts.host}${parts.port ? `:${parts.port}` : ""}`
    : `https://${SSH_ONLY_HOSTS[parts.host] ?? parts.host}`;
  const prefix = chosen === "gitlab" ? gitLabPrefix(apiUrl) : [];
  if (prefix.length > 0) {
    // An https remote carries the prefix (ssh ones do not): the project path follows it.
    const under = prefix.every((s, i) => parts.segments[i] === s);
    const rest = under ? { ...parts, segments: parts.segments.slice(prefix.length) } : parts;
    return {
      provider: chosen,
      origin,
      ...parseGitLab(rest, url),
      basePath: segmentsToPath(prefix),
    };
  }
  return { provider: chosen, origin, ...PARSERS[chosen](parts, url) };
}

/** The path segments before `/api/v4` of a GitLab API root, e.g. `["gitlab"]`. */
function gitLabPrefix(apiUrl: string | undefined): string[] {
  if (!apiUrl) return [];
  let path: string;
  try {
    path = new URL(apiUrl).pathname;
  } catch {
    return [];
  }
  const segments = path.split("/").filter((s) => s !== "");
  const api = segments.lastIndexOf("api");
  return api > 0 && segments[api + 1] === "v4" ? segments.slice(0, api) : [];
}

function splitUrl(url: string): Parts {
  let scheme: string, host: string, port = "", path: string;
  const withScheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (withScheme) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new GitUrlError(`Cannot parse git URL '${redactUrl(url)}': it is not a valid URL`);
    }
    scheme = parsed.protocol.slice(0, -1).toLowerCase();
    if (!["https", "http", "ssh", "git", "git+ssh", "ssh+git"].includes(scheme)) {
      throw new GitUrlError(
        `Cannot parse git URL '${
          redactUrl(url)
        }' as scheme '${scheme}' is not one of https, http, ssh, git`,
      );
    }
    host = parsed.hostname.toLowerCase();
    port = parsed.port;
    path = parsed.pathname;
  } else {
    // `[user@]host:path`, the host in brackets when it is an IPv6 address.
    const scp = /^(?:[^@/\[]+@)?(\[[0-9a-f:.]+\]|[^:/[\]]+):(.+)$/i.exec(url);
    if (!scp) {
      throw new GitUrlError(
        `Cannot parse git URL '${
          redactUrl(url)
        }': expected https://host/owner/repo or git@host:owner/repo`,
      );
    }
    scheme = "ssh";
    host = scp[1]!.toLowerCase();
    path = scp[2]!;
  }
  if (scheme !== "https" && scheme !== "http") scheme = "ssh";
  const segments = path.split("/").filter((s) => s !== "").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  const last = segments.length - 1;
  if (last >= 0) segments[last] = segments[last]!.replace(/\.git$/, "");
  if (segments.length > 0 && segments[last] === "") segments.pop();
  if (!host) throw new GitUrlError(`Cannot parse git URL '${redactUrl(url)}': it has no host`);
  return { scheme, host, port, segments };
}

function detectProvider(parts: Parts, url: string): ProviderName {
  for (const [pattern, name] of HOST_PROVIDERS) if (pattern.test(parts.host)) return name;
  if (parts.segments.includes("_git")) return "azure-devops";
  if (parts.segments.includes("scm") || parts.port === "7999") return "bitbucket-server";
  throw new GitUrlError(
    `Cannot tell which git provider hosts '${
      redactUrl(url)
    }' as '${parts.host}' is not a known host: ` +
      `pass --provider with one of ${PROVIDERS.join(", ")}`,
  );
}

type Coordinates = Omit<GitRemote, "provider" | "origin">;

function need(ok: boolean, url: string, shape: string): void {
  if (!ok) {
    throw new GitUrlError(`Cannot parse git URL '${redactUrl(url)}': expected ${shape}`);
  }
}

function ownerRepo(p: Parts, url: string, shape: string): Coordinates {
  need(p.segments.length === 2, url, shape);
  return { basePath: "", owner: p.segments[0]!, repo: p.segments[1]! };
}

function parseGitLab(p: Parts, url: string): Coordinates {
  const cut = p.segments.indexOf("-");
  const segments = cut >= 0 ? p.segments.slice(0, cut) : p.segments;
  need(segments.length >= 2, url, "a GitLab project path like group/sub/project");
  return { basePath: "", owner: segments.slice(0, -1).join("/"), repo: segments.at(-1)! };
}

function parseGitea(p: Parts, url: string): Coordinates {
  need(p.segments.length >= 2, url, "owner/repo at the end of the path");
  return {
    basePath: segmentsToPath(p.segments.slice(0, -2)),
    owner: p.segments.at(-2)!,
    repo: p.segments.at(-1)!,
  };
}

function parseBitbucketServer(p: Parts, url: string): Coordinates {
  const shape = "/scm/PROJECT/repo, /projects/PROJECT/repos/repo or ssh://host:7999/PROJECT/repo";
  const s = p.segments;
  const scm = s.lastIndexOf("scm");
  if (scm >= 0) {
    need(s.length === scm + 3, url, shape);
    return { basePath: segmentsToPath(s.slice(0, scm)), owner: s[scm + 1]!, repo: s[scm + 2]! };
  }
  const projects = s.lastIndexOf("projects");
  if (projects >= 0 && s[projects + 2] === "repos" && s[projects + 3]) {
    return {
      basePath: segmentsToPath(s.slice(0, projects)),
      owner: s[projects + 1]!,
      repo: s[projects + 3]!,
    };
  }
  need(p.scheme === "ssh" && s.length === 2, url, shape);
  return { basePath: "", owner: s[0]!, repo: s[1]! };
}

function parseAzure(p: Parts, url: string): Coordinates {
  const s = p.segments;
  const shape = "ORG/PROJECT/_git/REPO, v3/ORG/PROJECT/REPO or COLLECTION/PROJECT/_git/REPO";
  if (p.scheme === "ssh" && s[0] === "v3") {
    need(s.length === 4, url, shape);
    return { basePath: "", owner: s[1]!, project: s[2]!, repo: s[3]! };
  }
  const git = s.indexOf("_git");
  need(git >= 0, url, shape);
  const after = s.slice(git + 1).filter((x) => x !== "_optimized" && x !== "_full");
  need(after.length === 1, url, shape);
  const repo = after[0]!;
  const before = s.slice(0, git);
  const vsOrg = /^([^.]+)\.visualstudio\.com$/.exec(p.host)?.[1];
  if (vsOrg) {
    const rest = before[0]?.toLowerCase() === "defaultcollection" ? before.slice(1) : before;
    need(rest.length <= 1, url, shape);
    return { basePath: "", owner: vsOrg, project: rest[0] ?? repo, repo };
  }
  if (p.host === "dev.azure.com") {
    need(before.length === 1 || before.length === 2, url, shape);
    return { basePath: "", owner: before[0]!, project: before[1] ?? repo, repo };
  }
  // Azure DevOps Server: [root…]/COLLECTION/PROJECT/_git/REPO or [root…]/COLLECTION/_git/REPO
  need(before.length >= 1, url, shape);
  if (before.length === 1) return { basePath: "", owner: before[0]!, project: repo, repo };
  return {
    basePath: segmentsToPath(before.slice(0, -2)),
    owner: before.at(-2)!,
    project: before.at(-1)!,
    repo,
  };
}

const PARSERS: Record<ProviderName, (p: Parts, url: string) => Coordinates> = {
  github: (p, url) => ownerRepo(p, url, "exactly owner/repo"),
  gitlab: parseGitLab,
  "azure-devops": parseAzure,
  bitbucket: (p, url) => ownerRepo(p, url, "exactly workspace/repo"),
  "bitbucket-server": parseBitbucketServer,
  gitea: parseGitea,
};

function segmentsToPath(segments: string[]): string {
  return segments.length === 0 ? "" : "/" + segments.map(encodeURIComponent).join("/");
}

/**
 * Removes credentials from a URL so it can be shown in a message.
 *
 * @example
 * ```ts
 * redactUrl("https://x:tok@github.com/o/r"); // "https://***@github.com/o/r"
 * ```
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, "$1***@");
}

/**
 * Whether a remote URL names the same repository as `remote`, whatever its form (https with or
 * without `.git` or credentials, ssh with or without a port, scp-style, Azure DevOps' ssh host):
 * same host (ports dropped), same owner, project and name, case-insensitive.
 *
 * @example
 * ```ts
 * const ours = parseGitUrl("https://github.com/acme/fleet");
 * sameRepository(ours, "ssh://git@github.com:22/acme/fleet.git"); // true
 * ```
 */
export function sameRepository(remote: GitRemote, url: string): boolean {
  let other: GitRemote;
  try {
    other = parseGitUrl(url, remote.provider);
  } catch {
    return false;
  }
  return repositoryKey(other) === repositoryKey(remote);
}

function repositoryKey(r: GitRemote): string {
  const host = new URL(r.origin).hostname;
  // Azure DevOps serves one repository under dev.azure.com, its ssh host and the old hosts.
  const site = r.provider === "azure-devops" && /(^|\.)(azure\.com|visualstudio\.com)$/.test(host)
    ? "dev.azure.com"
    : host;
  return [site, r.owner, r.project ?? "", r.repo].join("/").toLowerCase();
}
