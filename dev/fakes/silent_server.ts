/**
 * A loopback TCP server that takes connections and never answers (a hung provider: only a
 * request timeout or an abort ends the call), or hangs up on each at once (a reset before any
 * answer).
 *
 * @module
 */

/** A running {@linkcode startSilentServer}. */
export interface SilentServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Resolves once a first connection was taken. */
  connected: Promise<void>;
  /** Stops listening and closes every connection held. */
  close(): Promise<void>;
}

/** Starts a server that holds every connection (`hang`) or closes each at once (`hangUp`). */
export function startSilentServer(mode: "hang" | "hangUp" = "hang"): SilentServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const connected = Promise.withResolvers<void>();
  const accepting = (async () => {
    for await (const conn of listener) {
      if (mode === "hangUp") conn.close();
      else held.push(conn);
      connected.resolve();
    }
  })().catch(() => {});
  const close = async () => {
    listener.close();
    for (const conn of held) conn.close();
    await accepting;
  };
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    connected: connected.promise,
    close,
    [Symbol.asyncDispose]: close,
  };
}
