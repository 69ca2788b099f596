import assert from "node:assert/strict";
import { FluxLink } from "../../src/sources/flux/link.ts";
import { RpcError } from "../../src/sources/flux/rpc.ts";
import { createHandler } from "../../src/server/server.ts";
import { type ControllerStatus, FakeFluxd } from "../../dev/fakes/fluxd.ts";
import { fixture } from "../_helpers.ts";

function serveLink(rpcTimeoutMs = 10_000) {
  const link = new FluxLink({ rpcTimeoutMs });
  const handler = createHandler({
    maxEventBytes: 1 << 20,
    onEvent: () => Promise.resolve({ statuses: 0 }),
    onSocket: (socket, info) => link.attach(socket, info),
    notReadyReasons: () => [link.notReadyReason()].filter((r) => r !== undefined),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return {
    link,
    handler,
    connect: `ws://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      link.closeAll();
      await server.shutdown();
    },
  };
}

Deno.test("FluxLink pings fluxd on connect and reports ready only after the reply", async () => {
  await using s = await serveLink();
  assert.equal(s.link.notReadyReason(), "fluxd has not connected yet");
  await using fluxd = new FakeFluxd({ connect: s.connect });
  fluxd.start();
  await fluxd.waitFor(() => fluxd.requests.length === 1, "Ping");
  assert.deepEqual(fluxd.requests[0], { method: "RPCServer.Ping", params: [{}], id: 0 });
  const ready = new Promise<void>((resolve) => {
    const off = s.link.onChange(() => {
      if (!s.link.notReadyReason()) {
        off();
        resolve();
      }
    });
  });
  await ready;
  const res = await s.handler(new Request("http://x/readyz"));
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

Deno.test("FluxLink is not ready while fluxd's Ping fails (Kubernetes API unreachable)", async () => {
  await using s = await serveLink();
  await using fluxd = new FakeFluxd({
    connect: s.connect,
    pingError: () => "Kubernetes API unreachable",
  });
  fluxd.start();
  await new Promise<void>((resolve) => {
    const off = s.link.onChange(() => {
      if (s.link.notReadyReason()?.includes("Ping failed")) {
        off();
        resolve();
      }
    });
  });
  const res = await s.handler(new Request("http://x/readyz"));
  assert.equal(res.status, 503);
  assert.match((await res.json()).reason, /Kubernetes API unreachable/);
});

Deno.test("RpcClient reads fragmented replies over 4 KiB and Go-escaped IDs", async () => {
  const big = (await fixture("rpc-list-services-reply-ready.json")).result as {
    Result: ControllerStatus[];
  };
  const many = Array.from(
    { length: 30 },
    (_, i) => ({ ...big.Result[0]!, ID: `<cluster>:namespace/n${i}` }),
  );
  await using s = await serveLink();
  await using fluxd = new FakeFluxd({ connect: s.connect, services: () => many });
  fluxd.start();
  await fluxd.waitFor(() => fluxd.requests.length === 1, "Ping");
  const reply = await s.link.rpc!.call<{ Result: ControllerStatus[] }>("ListServices", "");
  assert.equal(reply.Result.length, 30);
  assert.equal(reply.Result[29]!.ID, "<cluster>:namespace/n29");
  assert.deepEqual(fluxd.requests[1], { method: "RPCServer.ListServices", params: [""], id: 1 });
  assert.equal(fluxd.textFramesIgnored, 0, "requests must go in binary frames: fluxd drops text");
});

Deno.test("RpcClient rejects with fluxd's error string for a method fluxd does not serve", async () => {
  await using s = await serveLink();
  await using fluxd = new FakeFluxd({ connect: s.connect });
  fluxd.start();
  await fluxd.waitFor(() => fluxd.requests.length === 1, "Ping");
  await assert.rejects(
    s.link.rpc!.call("ListServicesWithOptions", { Namespace: "", Services: [] }),
    (err: Error) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.kind, "remote");
      assert.match(err.message, /rpc: can't find method RPCServer\.ListServicesWithOptions/);
      return true;
    },
  );
  // The connection stays up for the next call.
  assert.equal(await s.link.rpc!.call("Version", {}), "1.25.4");
});

Deno.test("the daemon answers fluxd's pings, so fluxd's read deadline keeps moving", async () => {
  await using s = await serveLink();
  await using fluxd = new FakeFluxd({ connect: s.connect, pingPeriodMs: 20, pongWaitMs: 60 });
  fluxd.start();
  await fluxd.waitFor(() => fluxd.pongs >= 5, "five pongs");
  assert.ok(fluxd.connected);
  assert.deepEqual(fluxd.dials, [101]);
});

Deno.test("a closed socket rejects waiting calls and the link reports fluxd gone", async () => {
  await using s = await serveLink();
  await using fluxd = new FakeFluxd({ connect: s.connect, redialMs: 60_000 });
  fluxd.start();
  await fluxd.waitFor(() => fluxd.requests.length === 1, "Ping");
  const rpc = s.link.rpc!;
  const gone = new Promise<void>((resolve) => {
    const off = s.link.onChange(() => {
      if (!s.link.rpc) {
        off();
        resolve();
      }
    });
  });
  fluxd.dropConnection();
  await gone;
  assert.equal(s.link.notReadyReason(), "fluxd is not connected");
  await assert.rejects(rpc.call("Ping", {}), /not connected/);
});
