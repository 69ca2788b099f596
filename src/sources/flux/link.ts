/**
 * The daemon's link to fluxd: the newest open WebSocket fluxd dialled, with its RPC client, and
 * readiness from a `Ping` sent on every new connection.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { RPC_TIMEOUT_MS, RpcClient } from "./rpc.ts";

const log = getLogger(["flux-status", "flux"]);

interface Connection {
  socket: WebSocket;
  rpc: RpcClient;
  version: number;
}

/** Tracks fluxd's connections; the newest open one serves RPC calls. */
export class FluxLink {
  #connections = new Set<Connection>();
  #newest: Connection | undefined;
  #pingError: string | undefined = "fluxd has not connected yet";
  #rpcTimeoutMs: number;
  #listeners = new Set<() => void>();

  #connectionsSeen = 0;
  #onConnection: (reconnect: boolean) => void;
  #onRpcError: () => void;

  /**
   * @param options `rpcTimeoutMs`: how long an RPC call may take (default 10000);
   *   `onConnection`: called for each fluxd connection (metrics); `onRpcError`: called for each
   *   failed RPC call (metrics)
   */
  constructor(
    options: {
      rpcTimeoutMs?: number;
      onConnection?: (reconnect: boolean) => void;
      onRpcError?: () => void;
    } = {},
  ) {
    this.#rpcTimeoutMs = options.rpcTimeoutMs ?? RPC_TIMEOUT_MS;
    this.#onConnection = options.onConnection ?? (() => {});
    this.#onRpcError = options.onRpcError ?? (() => {});
  }

  /** Takes a socket from the server's upgrade. */
  attach(socket: WebSocket, info: { version: number; userAgent: string }): void {
    const connection: Connection = {
      socket,
      rpc: new RpcClient(socket, { timeoutMs: this.#rpcTimeoutMs }),
      version: info.version,
    };
    socket.addEventListener("open", () => {
      this.#connections.add(connection);
      this.#newest = connection;
      this.#onConnection(this.#connectionsSeen++ > 0);
      log.info("fluxd connected on /v{version}/daemon ({userAgent})", info);
      connection.rpc.call("Ping", {}).then(
        () => {
          if (this.#newest === connection) this.#pingError = undefined;
        },
        (err: Error) => {
          if (this.#newest === connection) this.#pingError = `Ping failed: ${err.message}`;
          this.#onRpcError();
          log.warn("fluxd did not answer Ping: {error}", { error: err.message });
        },
      ).finally(() => this.#notify());
    });
    socket.addEventListener("close", (event) => {
      this.#connections.delete(connection);
      connection.rpc.dispose();
      if (this.#newest === connection) {
        this.#newest = [...this.#connections].at(-1);
        if (!this.#newest) this.#pingError = "fluxd is not connected";
      }
      log.info("fluxd disconnected ({code})", { code: event.code });
      this.#notify();
    });
  }

  /** The RPC client of the newest open connection, if any. */
  get rpc(): RpcClient | undefined {
    return this.#newest?.rpc.isOpen ? this.#newest.rpc : undefined;
  }

  /** Counts a failed RPC call made on a connection of this link. */
  recordRpcError(): void {
    this.#onRpcError();
  }

  /** Whether fluxd holds a connection open. */
  get isConnected(): boolean {
    return this.#connections.size > 0;
  }

  /** Why the daemon is not ready, or undefined when fluxd is connected and answered Ping. */
  notReadyReason(): string | undefined {
    return this.rpc ? this.#pingError : this.#pingError ?? "fluxd is not connected";
  }

  /** Calls `listener` whenever a connection opens, closes or answers its Ping. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Closes every connection (fluxd redials). */
  closeAll(): void {
    for (const c of this.#connections) {
      c.rpc.dispose();
      try {
        c.socket.close(1001, "flux-status shutting down");
      } catch {
        // already closed
      }
    }
    this.#connections.clear();
    this.#newest = undefined;
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }
}
