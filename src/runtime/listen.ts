/**
 * A `--listen` address, `HOST:PORT`, `[IPv6]:PORT` or `:PORT`.
 *
 * @module
 */

/** A listen address's parts. */
export interface ListenAddress {
  /** The host without brackets; `0.0.0.0` when the address names none. */
  hostname: string;
  /** The port; 0 lets the system choose. */
  port: number;
}

/**
 * Splits a `--listen` address (already checked as `HOST:PORT` by the configuration).
 *
 * @example
 * ```ts
 * splitListen("[::1]:3000"); // { hostname: "::1", port: 3000 }
 * ```
 */
export function splitListen(listen: string): ListenAddress {
  const at = listen.lastIndexOf(":");
  const hostname = listen.slice(0, at).replace(/^\[|\]$/g, "") || "0.0.0.0";
  return { hostname, port: Number(listen.slice(at + 1)) };
}

/** Whether a `--listen` address is reachable only from this host. */
export function isLoopback(listen: string): boolean {
  const host = splitListen(listen).hostname.toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
