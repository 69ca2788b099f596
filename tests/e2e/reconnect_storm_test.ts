/**
 * fluxd's socket dropped and redialled 100 times while a rollout is watched, with the daemon
 * in-process so that Deno's op and resource sanitizers (on) catch any timer or socket left behind.
 */
import assert from "node:assert/strict";
import { startDaemon } from "../../daemon.ts";
import { daemonConfig } from "../../src/config/config.ts";
import { type ControllerStatus, FakeFluxd } from "../../dev/fakes/fluxd.ts";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { syncEvent } from "../../dev/fakes/fluxd_events.ts";
import { tempDir } from "../_helpers.ts";

const SHA = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a";
const WORKLOAD = "apps:deployment/web";

Deno.test("100 dropped fluxd sockets during a rollout: the watch recovers and finishes, nothing leaks", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  const daemon = await startDaemon(daemonConfig({
    gitUrl: "https://github.com/acme/app",
    apiUrl: gh.url,
    githubToken: "test-token",
    instance: "dev",
    listen: "127.0.0.1:0",
    store: `${dir.path}/kv.sqlite`,
    pollInterval: "20ms",
    fluxUrl: "http://127.0.0.1:9",
  }));
  let ready = false;
  const fluxd = new FakeFluxd({
    connect: `ws://127.0.0.1:${daemon.addr.port}`,
    redialMs: 1,
    services: () => [{ ID: WORKLOAD, Status: ready ? "ready" : "updating" } as ControllerStatus],
  });
  try {
    fluxd.start();
    await fluxd.waitFor(() => fluxd.connected, "the first connection");
    const posted = await fluxd.postEvent(syncEvent({ commits: [{ revision: SHA }] }, [WORKLOAD]));
    assert.ok(posted.delivered);
    const asked = () => fluxd.requests.filter((r) => r.method === "RPCServer.ListServices").length;
    for (let i = 0; i < 100; i++) {
      const dials = fluxd.dials.length;
      fluxd.dropConnection();
      await fluxd.waitFor(() => fluxd.dials.length > dials && fluxd.connected, `redial ${i + 1}`);
      // Every 25th socket, the watch must ask over it: it kept asking across the reconnects.
      // (Checked by event: a count taken once after the storm raced the storm's speed.)
      if (i % 25 === 24) {
        const before = asked();
        await fluxd.waitFor(() => asked() > before, `a ListServices call after redial ${i + 1}`);
      }
    }
    ready = true;
    await gh.waitFor(
      () =>
        gh.statusesOf(SHA).some((s) =>
          s.context === "flux-status/dev/workload" && s.state === "success"
        ),
      "workload succeeded after the storm",
    );
    assert.equal(fluxd.dials.filter((s) => s !== 101).length, 0, "every redial was accepted");
  } finally {
    await fluxd.stop();
    await daemon.stop(1_000);
  }
});
