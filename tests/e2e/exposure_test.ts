/**
 * The listener under hostile clients: slow senders and oversized headers hold only their own
 * connection, and the events route keeps answering everyone else.
 */
import assert from "node:assert/strict";
import { startDaemon } from "../../daemon.ts";
import { daemonConfig } from "../../src/config/config.ts";
import { startFakeGitLab } from "../../dev/fakes/gitlab.ts";
import { syncEvent } from "../../dev/fakes/fluxd_events.ts";
import { tempDir } from "../_helpers.ts";

Deno.test("slowloris clients and an oversized header do not stop other requests on the events route", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab({ projects: ["acme/app"] });
  const daemon = await startDaemon(daemonConfig({
    gitUrl: "https://gitlab.example.com/acme/app.git",
    provider: "gitlab",
    apiUrl: gl.url,
    gitlabToken: "test-token",
    listen: "127.0.0.1:0",
    store: `${dir.path}/kv.sqlite`,
    pollWorkloads: "false",
  }));
  const port = daemon.addr.port;
  const encoder = new TextEncoder();
  const slow: Deno.Conn[] = [];
  try {
    // 50 clients that send half a request each and then nothing: headers, and a body cut short.
    for (let i = 0; i < 50; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode(
        i % 2
          ? "POST /v6/events HTTP/1.1\r\nHost: x\r\nContent-Le"
          : 'POST /v6/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"type":',
      ));
      slow.push(conn);
    }
    // One client with a 1 MiB header: refused by the HTTP server itself, before any handler.
    const big = await fetch(`http://127.0.0.1:${port}/v6/events`, {
      method: "POST",
      headers: { "x-padding": "a".repeat(1 << 20) },
      body: "{}",
    });
    assert.ok([400, 431].includes(big.status), `an oversized header got ${big.status}`);
    assert.equal(await big.text(), "", "no handler answered it");
    // Everyone else is answered.
    const sha = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a";
    const res = await fetch(`http://127.0.0.1:${port}/v6/events`, {
      method: "POST",
      body: JSON.stringify(syncEvent({ commits: [{ revision: sha }] })),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { accepted: "sync", statuses: 1 });
  } finally {
    for (const c of slow) c.close();
    await daemon.stop(1_000);
  }
});
