/**
 * A fluxd test double that follows docs/flux-protocol.md to the byte: it dials the daemon path
 * over raw TCP with gorilla/websocket's handshake and fluxd's headers, serves Go net/rpc JSON-RPC
 * on the socket (binary frames, one compact Go-escaped JSON object plus "\n" per reply, >4 KiB
 * replies fragmented, text frames discarded), pings every 13.33 s and drops the connection after
 * 30 s without a pong or data, closes with 1000 "ok", redials after 5 s (never after 410), and
 * POSTs events as Go's http.Client does (no Content-Type, Accept: application/json, gzip accepted).
 *
 * @module
 */
import { encodeBase64 } from "./_base64.ts";
import { Changes } from "./_server.ts";

/** A workload as `ListServices` returns it (v6.ControllerStatus). */
export type ControllerStatus = Record<string, unknown> & { ID: string };

/** Options of {@linkcode FakeFluxd}. */
export interface FakeFluxdOptions {
  /** fluxd's `--connect` value, e.g. `ws://127.0.0.1:3000`. */
  connect: string;
  /** fluxd's `--token`. */
  token?: string;
  /** fluxd version. @default "1.25.4" */
  version?: string;
  /** Socket path dialled. @default "/v11/daemon" */
  daemonPath?: string;
  /** Ping period. @default 13333 */
  pingPeriodMs?: number;
  /** Read deadline after a pong or data. @default 30000 */
  pongWaitMs?: number;
  /** Wait before redialling. @default 5000 */
  redialMs?: number;
  /** What ListServices answers: the workloads, or an application error. */
  services?: () => ControllerStatus[] | null | { applicationError: Record<string, string> };
  /** Makes Ping fail with this error string. */
  pingError?: () => string | undefined;
}

/** One JSON-RPC request the double received. */
export interface RpcRequest {
  method: string;
  params: unknown;
  id: unknown;
}

/** What fluxd made of an event POST. */
export interface PostResult {
  status: number;
  body: string;
  headers: Headers;
  /** fluxd counts it delivered: 200/201/202/204 and an empty or JSON body. */
  delivered: boolean;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Go's json.Marshal escaping of <, >, &, U+2028 and U+2029. */
export function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** The fluxd double. Call {@linkcode FakeFluxd.start} to dial and keep dialling. */
export class FakeFluxd {
  readonly options:
    & Required<Omit<FakeFluxdOptions, "token" | "services" | "pingError">>
    & FakeFluxdOptions;
  /** RPC requests received, in order. */
  readonly requests: RpcRequest[] = [];
  /** Status of each dial attempt (101 when upgraded). */
  readonly dials: number[] = [];
  /** Text frames received (fluxd discards them). */
  textFramesIgnored = 0;
  /** Pongs received in answer to fluxd's pings. */
  pongs = 0;
  #conn: Deno.TcpConn | undefined;
  #running = false;
  #changes = new Changes("fake fluxd", 20_000);
  #loop: Promise<void> | undefined;
  #stop = new AbortController();
  #exitedOn410 = false;

  constructor(options: FakeFluxdOptions) {
    this.options = {
      version: "1.25.4",
      daemonPath: "/v11/daemon",
      pingPeriodMs: 13_333,
      pongWaitMs: 30_000,
      redialMs: 5_000,
      ...options,
    };
  }

  /** Whether fluxd "exited" after a 410 on dial. */
  get exitedOn410(): boolean {
    return this.#exitedOn410;
  }

  /** Whether a socket is up. */
  get connected(): boolean {
    return this.#conn !== undefined;
  }

  /** Starts the dial loop (connect, serve, redial after `redialMs`). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#dialLoop();
  }

  /** Resolves once `predicate` holds; re-checked on every change the double sees. */
  waitFor(predicate: () => boolean, what = "condition"): Promise<void> {
    return this.#changes.waitFor(predicate, what);
  }

  #changed(): void {
    this.#changes.changed();
  }

  async #dialLoop(): Promise<void> {
    while (this.#running) {
      try {
        const status = await this.#dialOnce();
        if (status === 410) {
          this.#exitedOn410 = true;
          this.#running = false;
          this.#changed();
          return;
        }
      } catch {
        this.dials.push(0);
        this.#changed();
      }
      if (!this.#running) return;
      try {
        await sleep(this.options.redialMs, this.#stop.signal);
      } catch {
        return;
      }
    }
  }

  async #dialOnce(): Promise<number> {
    const url = new URL(this.options.connect);
    const port = Number(url.port || (url.protocol === "wss:" ? 443 : 80));
    const conn = await Deno.connect({ hostname: url.hostname, port });
    const key = encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
    const prefix = url.pathname.replace(/\/$/, "");
    const lines = [
      `GET ${prefix}${this.options.daemonPath} HTTP/1.1`,
      `Host: ${url.host}`,
      `User-Agent: fluxd/${this.options.version}`,
      ...(this.options.token ? [`Authorization: Scope-Probe token=${this.options.token}`] : []),
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      "Upgrade: websocket",
    ];
    await writeAll(conn, encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
    const reader = new ByteReader(conn);
    const head = await reader.readHead();
    const status = Number(head.split(" ")[1]);
    this.dials.push(status);
    if (status !== 101) {
      conn.close();
      this.#changed();
      return status;
    }
    const accept = /sec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
    const expected = encodeBase64(
      new Uint8Array(await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID))),
    );
    if (accept !== expected || /sec-websocket-protocol|sec-websocket-extensions/i.test(head)) {
      conn.close();
      throw new Error("fake fluxd: bad handshake answer");
    }
    this.#conn = conn;
    this.#changed();
    await this.#serve(conn, reader);
    this.#conn = undefined;
    this.#changed();
    return status;
  }

  async #serve(conn: Deno.TcpConn, reader: ByteReader): Promise<void> {
    let deadline = Date.now() + this.options.pongWaitMs;
    let alive = true;
    const stream = new JsonStream();
    const pinger = setInterval(() => {
      if (Date.now() > deadline) {
        alive = false;
        try {
          conn.close();
        } catch { /* closed */ }
        return;
      }
      writeFrame(conn, 0x9, new Uint8Array()).catch(() => {
        alive = false;
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }, this.options.pingPeriodMs);
    let message: Uint8Array[] = [];
    let messageOpcode = 0;
    try {
      while (alive && this.#running) {
        const frame = await reader.readFrame();
        if (!frame) break;
        if (frame.opcode === 0x9) {
          await writeFrame(conn, 0xa, frame.payload);
          continue;
        }
        if (frame.opcode === 0xa) {
          deadline = Date.now() + this.options.pongWaitMs;
          this.pongs++;
          this.#changed();
          continue;
        }
        if (frame.opcode === 0x8) {
          try {
            await writeFrame(conn, 0x8, frame.payload.slice(0, 2));
          } catch { /* peer gone */ }
          break;
        }
        if (frame.opcode !== 0x0) messageOpcode = frame.opcode;
        message.push(frame.payload);
        if (!frame.fin) continue;
        const payload = concat(message);
        message = [];
        if (messageOpcode === 0x1) {
          this.textFramesIgnored++;
          this.#changed();
          continue;
        }
        deadline = Date.now() + this.options.pongWaitMs;
        const requests = stream.push(decoder.decode(payload));
        if (requests === undefined) break; // undecodable: fluxd stops serving
        for (const request of requests) {
          // Each request runs on its own; replies may be written out of order.
          this.#answer(conn, request).catch(() => {});
        }
      }
    } catch {
      // connection died
    } finally {
      clearInterval(pinger);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }

  async #answer(conn: Deno.TcpConn, request: Record<string, unknown>): Promise<void> {
    const method = String(request.method ?? "");
    this.requests.push({ method, params: request.params, id: request.id });
    this.#changed();
    const id = request.id ?? null;
    let reply: { id: unknown; result: unknown; error: unknown };
    if (!Array.isArray(request.params) && request.params !== undefined && request.params !== null) {
      reply = { id, result: null, error: "jsonrpc: request body missing params" };
    } else if (request.params === undefined || request.params === null) {
      reply = { id, result: null, error: "jsonrpc: request body missing params" };
    } else {
      reply = this.#dispatch(method, id);
    }
    const bytes = encoder.encode(goJson(reply) + "\n");
    // gorilla writes messages over its 4096-byte buffer as fragments
    for (let off = 0; off < bytes.length || off === 0; off += 4096) {
      const chunk = bytes.slice(off, off + 4096);
      const first = off === 0, last = off + 4096 >= bytes.length;
      await writeFrame(conn, first ? 0x2 : 0x0, chunk, last);
      if (last) break;
    }
  }

  #dispatch(method: string, id: unknown): { id: unknown; result: unknown; error: unknown } {
    const dot = method.indexOf(".");
    if (dot < 0) {
      return { id, result: null, error: `rpc: service/method request ill-formed: ${method}` };
    }
    const [service, name] = [method.slice(0, dot), method.slice(dot + 1)];
    if (service !== "RPCServer") {
      return { id, result: null, error: `rpc: can't find service ${method}` };
    }
    switch (name) {
      case "Ping": {
        const err = this.options.pingError?.();
        return err ? { id, result: null, error: err } : { id, result: {}, error: null };
      }
      case "Version":
        return { id, result: this.options.version, error: null };
      case "ListServices": {
        const services = this.options.services?.() ?? null;
        if (services && !Array.isArray(services)) {
          return {
            id,
            result: { Result: null, ApplicationError: services.applicationError },
            error: null,
          };
        }
        const list = services && services.length > 0 ? services : null;
        return { id, result: { Result: list, ApplicationError: null }, error: null };
      }
      default:
        return { id, result: null, error: `rpc: can't find method ${method}` };
    }
  }

  /**
   * POSTs an event as fluxd does, on a fresh connection.
   *
   * @param event an event object (sent compact, Go-escaped) or a raw body
   */
  async postEvent(event: unknown): Promise<PostResult> {
    const url = new URL(this.options.connect);
    const port = Number(url.port || 80);
    const body = encoder.encode(typeof event === "string" ? event : goJson(event));
    const prefix = url.pathname.replace(/\/$/, "");
    const lines = [
      `POST ${prefix}/v6/events HTTP/1.1`,
      `Host: ${url.host}`,
      "User-Agent: Go-http-client/1.1",
      `Content-Length: ${body.length}`,
      "Accept: application/json",
      ...(this.options.token ? [`Authorization: Scope-Probe token=${this.options.token}`] : []),
      "Accept-Encoding: gzip",
    ];
    const conn = await Deno.connect({ hostname: url.hostname, port });
    try {
      await writeAll(conn, concat([encoder.encode(lines.join("\r\n") + "\r\n\r\n"), body]));
      const reader = new ByteReader(conn);
      const head = await reader.readHead();
      const [statusLine, ...headerLines] = head.split("\r\n");
      const status = Number(statusLine!.split(" ")[1]);
      const headers = new Headers();
      for (const line of headerLines) {
        const i = line.indexOf(":");
        if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
      }
      let raw: Uint8Array;
      if (headers.get("transfer-encoding")?.includes("chunked")) raw = await reader.readChunked();
      else raw = await reader.readExactly(Number(headers.get("content-length") ?? 0));
      if (headers.get("content-encoding") === "gzip") {
        raw = new Uint8Array(
          await new Response(
            new Blob([raw as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip")),
          ).arrayBuffer(),
        );
      }
      const text = decoder.decode(raw);
      let jsonOk = text === "";
      if (!jsonOk) {
        try {
          JSON.parse(text);
          jsonOk = true;
        } catch { /* fluxd: decoding response from server */ }
      }
      return {
        status,
        body: text,
        headers,
        delivered: [200, 201, 202, 204].includes(status) && jsonOk,
      };
    } finally {
      conn.close();
    }
  }

  /** Sends a close frame (1000, "ok") and stops dialling. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stop.abort();
    const conn = this.#conn;
    if (conn) {
      const payload = concat([new Uint8Array([0x03, 0xe8]), encoder.encode("ok")]);
      await writeFrame(conn, 0x8, payload).catch(() => {});
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await this.#loop;
  }

  /** Drops the TCP connection without a close frame (as a failed ping write does). */
  dropConnection(): void {
    try {
      this.#conn?.close();
    } catch { /* closed */ }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Writes one client frame (masked, as RFC 6455 requires of clients). */
async function writeFrame(conn: Deno.Conn, opcode: number, payload: Uint8Array, fin = true) {
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff);
  else {head.push(
      0x80 | 127,
      0,
      0,
      0,
      0,
      (len >>> 24) & 0xff,
      (len >> 16) & 0xff,
      (len >> 8) & 0xff,
      len & 0xff,
    );}
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const masked = payload.map((b, i) => b ^ mask[i % 4]!);
  await writeAll(conn, concat([new Uint8Array(head), mask, masked]));
}

/** Buffered reads of HTTP heads, bodies and WebSocket frames from a TCP connection. */
class ByteReader {
  #conn: Deno.Conn;
  #buf: Uint8Array = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    this.#buf = concat([this.#buf, chunk.subarray(0, n)]);
    return true;
  }

  async readExactly(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) if (!(await this.#fill())) throw new Error("connection closed");
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  async readHead(): Promise<string> {
    for (;;) {
      const text = decoder.decode(this.#buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = text.slice(0, end);
        this.#buf = this.#buf.slice(encoder.encode(text.slice(0, end + 4)).length);
        return head;
      }
      if (!(await this.#fill())) throw new Error("connection closed before the response head");
    }
  }

  async readLine(): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf(0x0a);
      if (i >= 0) {
        const line = decoder.decode(this.#buf.slice(0, i)).replace(/\r$/, "");
        this.#buf = this.#buf.slice(i + 1);
        return line;
      }
      if (!(await this.#fill())) throw new Error("connection closed");
    }
  }

  async readChunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const size = parseInt(await this.readLine(), 16);
      if (!size) {
        await this.readLine();
        return concat(parts);
      }
      parts.push(await this.readExactly(size));
      await this.readLine();
    }
  }

  async readFrame(): Promise<{ fin: boolean; opcode: number; payload: Uint8Array } | undefined> {
    try {
      const [b0, b1] = await this.readExactly(2);
      let len = b1! & 0x7f;
      if (len === 126) {
        const e = await this.readExactly(2);
        len = (e[0]! << 8) | e[1]!;
      } else if (len === 127) {
        const e = await this.readExactly(8);
        len = Number(new DataView(e.buffer).getBigUint64(0));
      }
      const mask = b1! & 0x80 ? await this.readExactly(4) : undefined;
      let payload = await this.readExactly(len);
      if (mask) payload = payload.map((b, i) => b ^ mask[i % 4]!);
      return { fin: (b0! & 0x80) !== 0, opcode: b0! & 0x0f, payload };
    } catch {
      return undefined;
    }
  }
}

/** Go's streaming JSON decoder, for objects: returns complete values, or undefined on bad input. */
class JsonStream {
  #text = "";

  push(text: string): Record<string, unknown>[] | undefined {
    this.#text += text;
    const out: Record<string, unknown>[] = [];
    let depth = 0, inString = false, escaped = false, start = -1;
    let consumed = 0;
    for (let i = 0; i < this.#text.length; i++) {
      const c = this.#text[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === "\\") escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (depth === 0 && /\s/.test(c)) continue;
      if (depth === 0 && c !== "{") return undefined;
      if (c === '"') inString = true;
      else if (c === "{" || c === "[") {
        if (depth === 0) start = i;
        depth++;
      } else if (c === "}" || c === "]") {
        depth--;
        if (depth === 0) {
          try {
            out.push(JSON.parse(this.#text.slice(start, i + 1)));
          } catch {
            return undefined;
          }
          consumed = i + 1;
        }
      }
    }
    this.#text = this.#text.slice(consumed);
    return out;
  }
}
