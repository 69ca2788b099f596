/**
 * JSON-RPC client over fluxd's WebSocket (docs/flux-protocol.md §3–4). fluxd is the server: it speaks
 * Go's `net/rpc/jsonrpc` (JSON-RPC 1.0 style), reads only binary messages and answers each request
 * with one binary message holding one JSON object and `\n`. Replies may come out of order and are
 * matched by `id`; a call that gets no reply in time rejects with {@linkcode RpcError}.
 *
 * @module
 */

/** A call failed: fluxd's error string, a timeout, or a closed socket. */
export class RpcError extends Error {
  /** What kind of failure: fluxd answered with an error, or no answer came. */
  readonly kind: "remote" | "timeout" | "closed";

  constructor(message: string, kind: RpcError["kind"], options?: ErrorOptions) {
    super(message, options);
    this.name = "RpcError";
    this.kind = kind;
  }
}

/** fluxd's application error envelope (`fluxerr.Error`). */
export interface ApplicationError {
  type: string;
  help?: string;
  error?: string;
}

/** The `{Result, ApplicationError}` envelope most fluxd methods answer with. */
export interface Envelope<T> {
  Result: T;
  ApplicationError: ApplicationError | null;
}

/** The socket side the client needs; a browser-style `WebSocket` fits. */
export type RpcSocket = Pick<
  WebSocket,
  "send" | "close" | "readyState" | "addEventListener" | "removeEventListener" | "binaryType"
>;

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (err: RpcError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** How long a call waits for its reply: fluxd's own `--rpc-timeout` default. */
export const RPC_TIMEOUT_MS = 10_000;

/** A JSON-RPC client for one fluxd connection. */
export class RpcClient {
  #socket: RpcSocket;
  #timeoutMs: number;
  #nextId = 0;
  #waiting = new Map<number, Waiting>();
  #buffer = "";
  #decoder = new TextDecoder();
  #closed = false;

  /**
   * @param socket an open WebSocket to fluxd
   * @param options `timeoutMs`: how long a call may wait for its reply (default
   *   {@linkcode RPC_TIMEOUT_MS})
   */
  constructor(socket: RpcSocket, options: { timeoutMs?: number } = {}) {
    this.#socket = socket;
    this.#timeoutMs = options.timeoutMs ?? RPC_TIMEOUT_MS;
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", this.#onMessage);
    socket.addEventListener("close", this.#onClose);
  }

  /** Whether the socket is still usable. */
  get isOpen(): boolean {
    return !this.#closed && this.#socket.readyState === WebSocket.OPEN;
  }

  /**
   * Calls `RPCServer.<method>` with one argument.
   *
   * @throws {RpcError} with fluxd's error string, or on timeout or close
   */
  call<T>(method: string, param: unknown, signal?: AbortSignal): Promise<T> {
    if (!this.isOpen) {
      return Promise.reject(
        new RpcError(`Cannot call ${method} as fluxd is not connected`, "closed"),
      );
    }
    const id = this.#nextId++;
    const body = JSON.stringify({ method: `RPCServer.${method}`, params: [param], id }) + "\n";
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => this.#settle(id, new RpcError(`Call ${method} was aborted`, "closed"));
      const timer = setTimeout(
        () =>
          this.#settle(
            id,
            new RpcError(`fluxd did not answer ${method} within ${this.#timeoutMs} ms`, "timeout"),
          ),
        this.#timeoutMs,
      );
      this.#waiting.set(id, {
        resolve: (v) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(v as T);
        },
        reject: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
        timer,
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        this.#socket.send(new TextEncoder().encode(body));
      } catch (err) {
        this.#settle(id, new RpcError(`Cannot send ${method} to fluxd`, "closed", { cause: err }));
      }
    });
  }

  /** Rejects every waiting call and stops listening. */
  dispose(): void {
    this.#closed = true;
    this.#socket.removeEventListener("message", this.#onMessage);
    this.#socket.removeEventListener("close", this.#onClose);
    for (const id of [...this.#waiting.keys()]) {
      this.#settle(id, new RpcError("fluxd disconnected", "closed"));
    }
  }

  #settle(id: number, outcome: RpcError | { result: unknown }): void {
    const waiting = this.#waiting.get(id);
    if (!waiting) return;
    this.#waiting.delete(id);
    clearTimeout(waiting.timer);
    if (outcome instanceof RpcError) waiting.reject(outcome);
    else waiting.resolve(outcome.result);
  }

  #onClose = () => this.dispose();

  #onMessage = (event: MessageEvent) => {
    if (typeof event.data === "string") return; // fluxd only sends binary; ignore anything else
    this.#buffer += this.#decoder.decode(event.data as ArrayBuffer, { stream: true });
    let newline: number;
    while ((newline = this.#buffer.indexOf("\n")) >= 0) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line) this.#onReply(line);
    }
  };

  #onReply(line: string): void {
    let reply: { id?: unknown; result?: unknown; error?: unknown };
    try {
      reply = JSON.parse(line);
    } catch {
      return; // not a reply we can match; its caller times out
    }
    if (typeof reply.id !== "number") return;
    if (reply.error !== null && reply.error !== undefined) {
      this.#settle(reply.id, new RpcError(`fluxd answered: ${String(reply.error)}`, "remote"));
    } else {
      this.#settle(reply.id, { result: reply.result });
    }
  }
}
