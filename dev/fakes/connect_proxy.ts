/**
 * A forward proxy for HTTPS, as corporate networks run them: it answers `CONNECT host:port` with
 * 200 and pipes bytes both ways, and records each tunnel's target. Anything else gets 405.
 *
 * @module
 */

/** A running proxy. */
export interface ConnectProxy extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, for HTTPS_PROXY. */
  url: string;
  /** `host:port` of every tunnel opened, in order. */
  tunnels: string[];
}

/** Starts the proxy on a free loopback port. */
export function startConnectProxy(): ConnectProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tunnels: string[] = [];
  const open = new Set<Deno.Conn>();
  const encoder = new TextEncoder();

  async function serve(conn: Deno.Conn) {
    open.add(conn);
    try {
      const buf = new Uint8Array(8192);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      const target = /^CONNECT (\S+) HTTP\/1\.[01]\r\n/.exec(head)?.[1];
      if (!target) {
        await conn.write(encoder.encode("HTTP/1.1 405 Method Not Allowed\r\n\r\n"));
        return;
      }
      tunnels.push(target);
      const [hostname, port] = [target.slice(0, target.lastIndexOf(":")), target.split(":").at(-1)];
      const upstream = await Deno.connect({ hostname, port: Number(port) });
      open.add(upstream);
      await conn.write(encoder.encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
      await Promise.allSettled([
        conn.readable.pipeTo(upstream.writable),
        upstream.readable.pipeTo(conn.writable),
      ]);
    } catch {
      /* a client or upstream that went away */
    } finally {
      for (const c of [conn]) {
        open.delete(c);
        try {
          c.close();
        } catch { /* closed by the pipe */ }
      }
    }
  }

  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })().catch(() => {});

  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    tunnels,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await accepting;
    },
  };
}
