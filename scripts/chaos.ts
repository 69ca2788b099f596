/**
 * `deno task chaos [--quick]`: the promise under crashes and hostile input, as counts anyone can
 * rerun, printed and written to RELIABILITY.md (full run only).
 *
 * 1. Crash chaos: fluxd and Flux v2 sync events flow into a daemon (from source, with the release
 *    binaries' permissions and runtime flags) while the fake GitLab flaps (503s, 429s with Retry-After: GitLab, as
 *    GitHub's one-write-a-second pacing would make the run last an hour); the daemon
 *    is killed with SIGKILL, an event in flight, at points taken by turns (at random; at a write
 *    to the store's WAL, inside a KV commit; when the provider applied a status but before its
 *    answer left; just after the answer left, before the daemon recorded it), and restarted on
 *    the same store. At the end every acknowledged event's final statuses must be at the provider, no final
 *    state overwritten, and identical re-sends at most one per kill.
 * 2. Fuzzing: mutated, truncated, deeply nested and random-byte bodies to `/v6/events` and
 *    `/flux2/events` (unsigned, and signed with the right key) of the real handler and intake on
 *    a real store: never a 5xx, never an unhandled rejection, memory within a stated bound, and a
 *    good event still lands afterwards.
 * 3. Fuzzing fluxd's WebSocket on a daemon process: broken frames and hostile JSON-RPC replies;
 *    the daemon stays healthy and the next good event lands.
 * 4. Provider faults: one line per answer a provider can give (5xx, limits with and without
 *    headers, 401, 404, 422, an odd 2xx, refused, reset, DNS, a connection that never answers)
 *    and what the outbox did with it.
 * 5. Cluster chaos (`--kubernetes`): two replicas (processes, each with its own store, a 3 s
 *    Lease) follow a fake apiserver while commits move through 200 Kustomizations, some failing;
 *    meanwhile, at random: dropped watches, a compaction (410), an apiserver restart, and the
 *    leader killed with SIGKILL (then restarted). Counted: lost and wrong final verdicts,
 *    duplicate final writes, and the time from a leader's kill to the other holding the Lease.
 *
 * @module
 */
import { PERMISSIONS, RUNTIME_FLAGS } from "./compile.ts";
import { procStat, sleep, startDaemonServer } from "./_proc.ts";
import { createIntake } from "../src/intake/intake.ts";
import { Flux2Intake } from "../src/intake/flux2_intake.ts";
import type { Notifier } from "../src/notifiers/notifier.ts";
import { Outbox, type Settled } from "../src/outbox/outbox.ts";
import { createHandler } from "../src/server/server.ts";
import { startFakeGitLab } from "../dev/fakes/gitlab.ts";
import { startFakeGitHub } from "../dev/fakes/github.ts";
import type { Fault } from "../dev/fakes/_server.ts";
import { startSilentServer } from "../dev/fakes/silent_server.ts";
import { createNotifier } from "../src/notifiers/mod.ts";
import { parseGitUrl } from "../src/notifiers/git_url.ts";
import { shaOf, syncEvent } from "../dev/fakes/fluxd_events.ts";
import { fuzzedBody, prng } from "../dev/fakes/fuzz.ts";
import { flux2Fixture, signature } from "../dev/fakes/notification_controller.ts";
import { startKubeApiserver } from "../dev/fakes/kube_apiserver.ts";
import { flux, gitRepository, writeKubeconfig } from "../tests/_kube.ts";
import { startServer } from "./_proc.ts";

const QUICK = Deno.args.includes("--quick");
const CYCLES = QUICK ? 10 : 60;
const FUZZ = QUICK ? 2_000 : 10_000;
const SEED = 20261203;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const random = prng(SEED);
const report: string[] = [];
const say = (line: string) => {
  console.log(line);
  report.push(line);
};

// 1. Crash chaos.
{
  await using gl = await startFakeGitLab({ projects: ["acme/app"] });
  const dir = await Deno.makeTempDir({ prefix: "flux-status-chaos-" });
  const store = `${dir}/kv.sqlite`;
  const acked: { source: "fluxd" | "flux2"; sha: string }[] = [];
  const KILL_POINTS = [
    "random",
    "store write",
    "provider applied, no answer",
    "answer sent, not recorded",
  ] as const;
  const killedAt = Object.fromEntries(KILL_POINTS.map((p) => [p, 0])) as Record<
    typeof KILL_POINTS[number],
    number
  >;
  let sent = 0, n = 0, kills = 0, crashes = 0;
  const flux2Names = (sha: string) =>
    ["sync", "workload"].map((a) => ({
      sha,
      context: `flux-status/chaos/kustomization/flux-system/apps/${a}`,
    }));
  const expected = () =>
    acked.flatMap(({ source, sha }) =>
      source === "fluxd" ? [{ sha, context: "flux-status/chaos/sync" }] : flux2Names(sha)
    );
  const start = () =>
    startDaemonServer({
      cli: CLI,
      apiUrl: gl.url,
      store,
      permissions: PERMISSIONS,
      extra: [
        "--poll-workloads=false",
        "--instance",
        "chaos",
        "--git-url",
        "https://gitlab.example.com/acme/app.git",
        "--provider",
        "gitlab",
        "--gitlab-token",
        "test-token",
      ],
    });
  const send = async (url: string) => {
    const i = n++;
    const sha = shaOf(1_000_000 + i);
    const flux2 = i % 2 === 1;
    const body = flux2
      ? flux2Fixture("kustomization-applied.json", {
        revision: `main@sha1:${sha}`,
        timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      })
      : new TextEncoder().encode(JSON.stringify(syncEvent({ commits: [{ revision: sha }] })));
    sent++;
    const res = await fetch(`${url}${flux2 ? "/flux2/events" : "/v6/events"}`, {
      method: "POST",
      body,
    });
    await res.body?.cancel();
    if (res.status === 200) acked.push({ source: flux2 ? "flux2" : "fluxd", sha });
  };

  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const d = await start();
    // The provider flaps: some cycles begin with 503s or a 429 asking for a second.
    const flap = random();
    if (flap < 0.3) {
      for (let f = 0; f < 3; f++) gl.faults.push({ status: 503, method: "POST" });
    } else if (flap < 0.45) {
      gl.faults.push({
        status: 429,
        method: "POST",
        headers: { "retry-after": "1" },
        body: "Retry later\n",
      });
    }
    // A few events, then the kill at a random point among them and the deliveries they start.
    const events = 1 + Math.floor(random() * 6);
    for (let e = 0; e < events; e++) {
      await send(d.url).catch(() => {});
      await sleep(random() * 40);
    }
    // Kill with an event in flight, at a point chosen by turns: at random; at the Nth write to
    // the store's WAL (inside a KV commit: the event's, or a delivery's record); the moment the
    // provider has applied a status but before its answer leaves; just after the answer left,
    // before the daemon can record it.
    const mode = KILL_POINTS[cycle % KILL_POINTS.length]!;
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      try {
        Deno.kill(d.pid, "SIGKILL");
      } catch { /* gone already: its status below says how it ended */ }
    };
    let armed: Promise<unknown> = Promise.resolve();
    let disarm = () => {};
    if (mode === "store write") {
      const wal = Deno.watchFs(`${store}-wal`);
      disarm = () => wal.close();
      const writes = 1 + Math.floor(random() * 4);
      armed = (async () => {
        let seen = 0;
        for await (const change of wal) {
          if (change.kind === "modify" && ++seen >= writes) return kill();
        }
      })();
    } else if (mode !== "random") {
      const from = gl.received.length;
      armed = gl.waitFor(() => {
        const last = gl.received.at(-1);
        if (gl.received.length <= from || last?.method !== "POST" || last.status >= 300) {
          return false;
        }
        // The fake's handler runs this before it returns its answer.
        if (mode === "provider applied, no answer") kill();
        else setTimeout(kill, 0);
        return true;
      }).then(() => sleep(1), () => {}); // after the kill's timer; never reached: the fallback
    }
    const inFlight = send(d.url).catch(() => {});
    await Promise.race([armed, sleep(mode === "random" ? random() * 3 : 3_000)]);
    disarm();
    if (killed || mode === "random") killedAt[mode]++;
    kill(); // when the point was not reached in time (the provider refusing every POST)
    const ended = await d.stop();
    if (ended.signal !== "SIGKILL") crashes++; // it died by itself before the kill
    kills++;
    await inFlight;
  }
  gl.faults.length = 0;
  const final = await start();
  const posted = (sha: string, context: string) =>
    (gl.history.get(sha) ?? []).filter((j) => j.name === context); // oldest first
  const landed = () =>
    expected().every(({ sha, context }) =>
      posted(sha, context).some((j) => j.status === "success")
    );
  const deadline = performance.now() + 120_000;
  while (!landed() && performance.now() < deadline) await sleep(200);
  await sleep(1500); // any late re-send would show now
  await final.stop();

  let lost = 0, duplicates = 0, overwritten = 0, delivered = 0;
  for (const { sha, context } of expected()) {
    const posts = posted(sha, context);
    delivered += posts.length;
    if (!posts.some((j) => j.status === "success")) lost++;
    const firstFinal = posts.findIndex((j) => j.status !== "pending");
    if (firstFinal >= 0 && posts.slice(firstFinal).some((j) => j.status === "pending")) {
      overwritten++;
    }
    for (let i = 1; i < posts.length; i++) {
      const [a, b] = [posts[i - 1]!, posts[i]!];
      if (a.status === b.status && a.description === b.description) duplicates++;
    }
  }
  await Deno.remove(dir, { recursive: true });
  say(`## Crash chaos (seed ${SEED})`);
  say("");
  say(
    `| kills | events sent | acked (2xx) | statuses expected | delivered (POSTs) | identical re-sends | overwritten finals | lost |`,
  );
  say(`| --- | --- | --- | --- | --- | --- | --- | --- |`);
  say(
    `| ${kills} | ${sent} | ${acked.length} | ${expected().length} | ${delivered} | ${duplicates} | ${overwritten} | ${lost} |`,
  );
  say("");
  say(
    `Kill points, by turns (how many kills landed there; the rest fell back to a kill after 3 s): ${
      KILL_POINTS.map((p) => `${p} ${killedAt[p]}`).join(", ")
    }.`,
  );
  say("");
  if (crashes > 0) say(`The daemon died by itself ${crashes} time(s) before a kill.`);
  if (lost > 0 || overwritten > 0 || duplicates > kills || crashes > 0) {
    console.error("error: the promise broke under crash chaos (see the counts above)");
    Deno.exitCode = 1;
  }
}

// 2. Fuzzing the event routes of the real handler and intake, on a real store.
{
  const parked: Notifier = {
    provider: "none",
    setStatus: () => new Promise(() => {}),
    getStatus: () => Promise.resolve(undefined),
    listStatuses: () => Promise.resolve([]),
  };
  const dir = await Deno.makeTempDir({ prefix: "flux-status-fuzz-" });
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  const outbox = new Outbox({ kv, notifier: parked, instance: "fuzz" });
  const accept = createIntake({ kv, outbox });
  const flux2 = new Flux2Intake({ kv, outbox, pendingTimeoutMs: 1_200_000 });
  const KEY = "fuzz-hmac-key";
  const handler = (signed: boolean) =>
    createHandler({
      maxEventBytes: 1 << 20,
      onEvent: async (e) => ({ statuses: e.outcome ? await accept(e.outcome) : 0 }),
      onFlux2Event: (o) => flux2.accept(o).then((statuses) => ({ statuses })),
      onSocket: () => {},
      notReadyReasons: () => [],
      ...(signed ? { flux2HmacKey: new TextEncoder().encode(KEY) } : {}),
    });
  const [open, keyed] = [handler(false), handler(true)];
  let unhandled = 0;
  globalThis.addEventListener("unhandledrejection", (e) => {
    unhandled++;
    e.preventDefault();
  });
  const fluxdSeeds = ["event-sync.json", "event-sync-errors.json", "event-release.json"].map(
    (name) =>
      JSON.parse(
        Deno.readTextFileSync(new URL(`../dev/fixtures/flux/${name}`, import.meta.url)),
      ),
  );
  const flux2Seeds = [
    "kustomization-applied.json",
    "helmrelease-upgrade-failed.json",
    "kustomization-progressing.json",
  ].map((name) => JSON.parse(new TextDecoder().decode(flux2Fixture(name))));
  // The heap after a full collection (the task runs with --expose-gc), and RSS, before and after.
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const heapMb = () => (gc(), Deno.memoryUsage().heapUsed / 1024 / 1024);
  const [rss0, heap0] = [procStat(Deno.pid).rssMb, heapMb()];
  say(`## Fuzzing (seed ${SEED})`);
  say("");
  say("| route | inputs | 2xx | 4xx | 5xx |");
  say("| --- | --- | --- | --- | --- |");
  let fiveHundreds = 0;
  const routes = [
    { name: "/v6/events", path: "/v6/events", seeds: fluxdSeeds, h: open, sign: false },
    {
      name: "/flux2/events (unsigned)",
      path: "/flux2/events",
      seeds: flux2Seeds,
      h: open,
      sign: false,
    },
    {
      name: "/flux2/events (signed)",
      path: "/flux2/events",
      seeds: flux2Seeds,
      h: keyed,
      sign: true,
    },
  ];
  for (const route of routes) {
    const counts = { ok: 0, client: 0, server: 0 };
    for (let i = 0; i < FUZZ; i++) {
      const body = fuzzedBody(route.seeds[i % route.seeds.length], random);
      const headers: Record<string, string> = route.sign
        ? { "x-signature": await signature(body, KEY) }
        : {};
      const res = await route.h(
        new Request(`http://fuzz${route.path}`, { method: "POST", body, headers }),
      );
      await res.body?.cancel();
      if (res.status >= 500) counts.server++;
      else if (res.status >= 400) counts.client++;
      else counts.ok++;
    }
    fiveHundreds += counts.server;
    say(`| ${route.name} | ${FUZZ} | ${counts.ok} | ${counts.client} | ${counts.server} |`);
  }
  const good = await open(
    new Request("http://fuzz/v6/events", {
      method: "POST",
      body: JSON.stringify(syncEvent({ commits: [{ revision: shaOf(42) }] })),
    }),
  );
  const goodAnswer = await good.json();
  const heapGrowth = heapMb() - heap0;
  const rssGrowth = procStat(Deno.pid).rssMb - rss0;
  const queued = (await outbox.stats()).depth;
  // What stays is the queue the accepted inputs built (no provider here): about 1 KiB a status.
  const BOUND_MB = 8 + queued / 1024;
  say("");
  say(
    `After fuzzing: a good event answered ${good.status} with ${goodAnswer.statuses} status(es); ${unhandled} unhandled rejections; ${queued} statuses queued by the accepted inputs; live heap grew ${
      heapGrowth.toFixed(1)
    } MiB after a full GC (bound ${
      BOUND_MB.toFixed(1)
    } MiB: 8 plus 1 KiB a queued status); RSS grew ${
      rssGrowth.toFixed(1)
    } MiB (the allocator keeps what the collected garbage used).`,
  );
  say("");
  kv.close();
  await Deno.remove(dir, { recursive: true });
  if (fiveHundreds > 0 || unhandled > 0 || good.status !== 200 || heapGrowth > BOUND_MB) {
    console.error("error: fuzzing found a 5xx, an unhandled rejection, growth or a lost event");
    Deno.exitCode = 1;
  }
}

// 3. Fuzzing fluxd's WebSocket: what a broken or hostile fluxd could send on /v11/daemon.
{
  const dir = await Deno.makeTempDir({ prefix: "flux-status-wsfuzz-" });
  const d = await startDaemonServer({
    cli: CLI,
    apiUrl: "http://127.0.0.1:9",
    store: `${dir}/kv.sqlite`,
    permissions: PERMISSIONS,
    extra: ["--poll-workloads=false"],
  });
  const port = Number(new URL(d.url).port);
  const encoder = new TextEncoder();
  /** A client frame (masked, as RFC 6455 requires of clients), or a broken one. */
  const frame = (opcode: number, payload: Uint8Array, options: { lie?: boolean } = {}) => {
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const len = payload.length;
    const head = options.lie
      ? [0x80 | opcode, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] // 2^63 bytes
      : len < 126
      ? [0x80 | opcode, 0x80 | len]
      : [0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff];
    const masked = payload.map((b, i) => b ^ mask[i % 4]!);
    return new Uint8Array([...head, ...mask, ...masked]);
  };
  const inputs = (i: number): Uint8Array => {
    const json = (v: unknown) => encoder.encode(JSON.stringify(v));
    switch (i % 8) {
      case 0:
        return crypto.getRandomValues(new Uint8Array(1 + Math.floor(random() * 200)));
      case 1:
        return frame(0x1, encoder.encode("text frames are not fluxd's")); // text frame
      case 2: // a reply to a call never made, or made twice
        return frame(0x2, json({ id: Math.floor(random() * 5), result: null, error: null }));
      case 3:
        return frame(0x2, json({ id: "x", result: { Result: [] }, error: "boom" }));
      case 4:
        return frame(0x2, encoder.encode("[".repeat(3000) + "]".repeat(3000))); // deep nesting
      case 5:
        return frame(0x2, new Uint8Array(0), { lie: true }); // a length no one can send
      case 6: // truncated frame
        return frame(0x2, json({ id: 1, result: {} })).slice(0, 5);
      default:
        return frame(0x2, crypto.getRandomValues(new Uint8Array(Math.floor(random() * 300))));
    }
  };
  let sentFrames = 0, connections = 0, refusedUpgrades = 0;
  while (sentFrames < FUZZ) {
    connections++;
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      break; // the daemon is gone: reported below
    }
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await conn.write(encoder.encode(
      `GET /v11/daemon HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: fluxd/1.25.4\r\n\r\n`,
    ));
    const head = new Uint8Array(1024);
    const n = await conn.read(head).catch(() => null);
    if (!n || !new TextDecoder().decode(head.subarray(0, n)).startsWith("HTTP/1.1 101")) {
      refusedUpgrades++;
    }
    // Up to 50 inputs per connection, until the daemon closes it.
    for (let k = 0; k < 50 && sentFrames < FUZZ; k++) {
      sentFrames++;
      const ok = await conn.write(inputs(sentFrames)).then(() => true, () => false);
      if (!ok) break;
    }
    try {
      conn.close();
    } catch { /* closed by the daemon */ }
  }
  const alive = await fetch(`${d.url}/healthz`).then((r) => (r.body?.cancel(), r.status), () => 0);
  const after = await fetch(`${d.url}/v6/events`, {
    method: "POST",
    body: JSON.stringify(syncEvent({ commits: [{ revision: shaOf(43) }] })),
  }).then((r) => (r.body?.cancel(), r.status), () => 0);
  await d.stop();
  await Deno.remove(dir, { recursive: true });
  say(`## Fuzzing fluxd's WebSocket (seed ${SEED})`);
  say("");
  say(
    `${sentFrames} inputs (random bytes, text frames, replies with unknown or repeated ids, 3,000-deep nesting, 2^63-byte length headers, truncated frames, random binary frames) over ${connections} connections (${refusedUpgrades} upgrades refused). Afterwards /healthz answered ${alive} and a good event ${after}.`,
  );
  say("");
  if (alive !== 200 || after !== 200) {
    console.error("error: the daemon did not survive the WebSocket fuzzing");
    Deno.exitCode = 1;
  }
}

// 4. Provider faults: what the outbox does with each answer a provider can give to a status POST.
{
  await using gh = await startFakeGitHub();
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (closed.addr as Deno.NetAddr).port;
  closed.close(); // nothing listens there now: connection refused
  await using resetting = startSilentServer("hangUp");
  await using hung = startSilentServer("hang");
  // An SSO proxy: every write is redirected to its login page, which answers 200 HTML.
  const proxied = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/login" || req.method === "GET"
        ? new Response("<html>Sign in</html>", { headers: { "content-type": "text/html" } })
        : new Response(null, { status: 302, headers: { location: "/login" } }),
  );
  await using loginProxy = {
    url: `http://127.0.0.1:${proxied.addr.port}/api/v3`,
    [Symbol.asyncDispose]: () => proxied.shutdown(),
  };
  const reset = Math.floor(Date.now() / 1000) + 120;
  /** GitHub's 422 for a status it will not take, naming the field. */
  const validationFailed = (field: string, message: string): Fault => ({
    status: 422,
    method: "POST",
    body: {
      message: "Validation Failed",
      errors: [{ resource: "Status", code: "custom", field, message }],
    },
  });
  const cases: { fault: string; apiUrl?: string; push?: Fault; description?: string }[] = [
    { fault: "500", push: { status: 500, method: "POST" } },
    {
      fault: "503 with Retry-After: 5",
      push: { status: 503, method: "POST", headers: { "retry-after": "5" } },
    },
    {
      fault: "429 with Retry-After: 30",
      push: { status: 429, method: "POST", headers: { "retry-after": "30" } },
    },
    {
      fault: "403 primary limit (x-ratelimit-remaining: 0, reset in 120 s)",
      push: {
        status: 403,
        method: "POST",
        headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
        body: { message: "API rate limit exceeded for user ID 1." },
      },
    },
    {
      fault: "403 secondary limit, no headers",
      push: {
        status: 403,
        method: "POST",
        body: { message: "You have exceeded a secondary rate limit." },
      },
    },
    {
      fault: "401 Bad credentials",
      push: { status: 401, method: "POST", body: { message: "Bad credentials" } },
    },
    {
      fault: "404 on one commit (the repository reads fine)",
      push: { status: 404, method: "POST", body: { message: "Not Found" } },
    },
    {
      fault: "404 for the repository (a wrong --api-url)",
      apiUrl: `${gh.url}/wrong/api/v3`,
    },
    { fault: "302 to a login page (an SSO proxy in front)", apiUrl: loginProxy.url },
    {
      fault: "422 1,000 statuses for this context",
      push: validationFailed(
        "context",
        "This SHA and context has reached the maximum number of statuses.",
      ),
    },
    {
      fault: "422 description too long",
      push: validationFailed("description", "description is too long (maximum is 140 characters)"),
    },
    {
      fault: "2xx with an unexpected body",
      push: { status: 201, method: "POST", body: "<html>ok</html>" },
    },
    { fault: "connection refused", apiUrl: `http://127.0.0.1:${closedPort}` },
    {
      fault: "connection reset",
      apiUrl: resetting.url,
    },
    { fault: "DNS failure", apiUrl: "http://flux-status-chaos.invalid" },
    {
      fault: "a connection that never answers (30 s request timeout)",
      apiUrl: hung.url,
    },
  ];
  say("## Provider faults (one status POST each, GitHub notifier, real store)");
  say("");
  say("| fault | what the outbox did |");
  say("| --- | --- |");
  let wrong = 0;
  for (const [i, c] of cases.entries()) {
    const dir = await Deno.makeTempDir({ prefix: "flux-status-fault-" });
    const kv = await Deno.openKv(`${dir}/kv.sqlite`);
    if (c.push) gh.faults.push(c.push);
    const notifier = await createNotifier({
      remote: parseGitUrl("git@github.com:acme/app.git"),
      token: "test-token",
      apiUrl: c.apiUrl ?? gh.url,
    });
    const first = Promise.withResolvers<Settled>();
    const outbox = new Outbox({
      kv,
      notifier,
      instance: "chaos",
      onSettled: (s) => first.resolve(s),
    });
    const stop = new AbortController();
    const running = outbox.run(stop.signal);
    await outbox.commit(kv.atomic(), [
      { sha: shaOf(5_000_000 + i), action: "sync", state: "succeeded", description: "Synced" },
    ]);
    const s = await Promise.race([first.promise, sleep(40_000).then(() => undefined)]);
    const pause = outbox.pause.current;
    stop.abort();
    await running;
    kv.close();
    await Deno.remove(dir, { recursive: true });
    gh.faults.length = 0;
    const did = !s
      ? "nothing within 40 s"
      : s.outcome === "retry"
      ? `kept it, ${s.kind}: ${
        pause
          ? `every call paused ${Math.round((s.delayMs ?? 0) / 1000)} s (${pause.kind}${
            pause.kind === "unreachable"
              ? `: ${s.error?.replace(/^.* could not be reached: /, "")}`
              : ""
          })`
          : `retry in ${Math.round((s.delayMs ?? 0) / 1000)} s`
      }`
      : s.outcome === "dropped"
      ? `dropped it (${s.reason}): ${s.error?.slice(0, 120)}`
      : s.outcome;
    if (!s) wrong++;
    say(`| ${c.fault} | ${did} |`);
  }
  say("");
  if (wrong > 0) {
    console.error("error: a provider fault left a status undecided");
    Deno.exitCode = 1;
  }
}

// 5. Cluster chaos: two replicas, one Lease, a flapping apiserver, a leader killed.
{
  const COMMITS = QUICK ? 4 : 10;
  const OBJECTS = 200;
  const LEASE_S = 3;
  await using gl = await startFakeGitLab({ projects: ["acme/app"] });
  const api = startKubeApiserver();
  const dir = await Deno.makeTempDir({ prefix: "flux-status-cluster-chaos-" });
  const { kubeconfig } = await writeKubeconfig(api, dir, { json: true });
  const REPO = "https://gitlab.example.com/acme/app.git";
  const replica = (name: string) =>
    startServer([
      ...RUNTIME_FLAGS,
      ...PERMISSIONS,
      "--quiet",
      CLI,
      "daemon",
      "--kubernetes",
      "--kubeconfig",
      kubeconfig,
      "--lease-duration",
      `${LEASE_S}s`,
      "--listen",
      "127.0.0.1:0",
      "--log-level",
      "warning",
      "--instance",
      "chaos",
      "--git-url",
      REPO,
      "--provider",
      "gitlab",
      "--api-url",
      gl.url,
      "--gitlab-token",
      "test-token",
      "--store",
      `${dir}/${name}/kv.sqlite`,
    ], { HOSTNAME: name });
  const replicas = new Map([["a", await replica("a")], ["b", await replica("b")]]);
  const holder = () =>
    (api.lease("flux-system", "flux-status-chaos")?.spec.holderIdentity ?? "").split("_")[0];
  const final = (sha: string, action: string) =>
    (gl.history.get(sha) ?? []).filter((j) =>
      j.name === `flux-status/chaos/${action}` && j.status !== "pending" && j.status !== "running"
    );
  const expected = new Map<string, "success" | "failed">();
  const recoveries: number[] = [];
  let takeovers = 0, faults = 0;
  const chaos = async () => {
    const r = random();
    faults++;
    if (r < 0.25) api.dropWatches();
    else if (r < 0.45) {
      api.compact();
      api.dropWatches();
    } else if (r < 0.65) {
      await api.pause();
      await sleep(500 + random() * 1500);
      await api.resume();
    } else {
      const leader = holder();
      const victim = leader ? replicas.get(leader) : undefined;
      if (!victim) return;
      const killedAt = performance.now();
      await victim.stop(); // SIGKILL: the Lease is not released
      takeovers++;
      while (holder() === leader && performance.now() - killedAt < 60_000) await sleep(50);
      recoveries.push((performance.now() - killedAt) / 1000);
      replicas.set(leader!, await replica(leader!));
    }
  };
  for (let c = 0; c < COMMITS; c++) {
    const sha = shaOf(7_000_000 + c);
    const fails = c % 3 === 2;
    expected.set(sha, fails ? "failed" : "success");
    api.apply(gitRepository(sha, REPO));
    for (let i = 0; i < OBJECTS; i++) {
      const progressing = flux("kustomization-apps-progressing", { c1: sha, name: `app-${i}` });
      if (fails && i === 7) {
        // The one that will fail is still building its manifests: nothing applied yet.
        for (const cond of progressing.status.conditions) {
          cond.message = cond.message.replace("Running health checks", "Building manifests");
        }
      }
      api.apply(progressing);
    }
    await chaos();
    for (let i = 0; i < OBJECTS; i++) {
      // One object of every third commit fails to build it (the fixture's C2; its C1 is older).
      api.apply(
        fails && i === 7
          ? flux("kustomization-apps-build-failed", {
            c1: shaOf(6_000_000 + c),
            c2: sha,
            name: `app-${i}`,
          })
          : flux("kustomization-apps-ready", { c1: sha, name: `app-${i}` }),
      );
    }
    await chaos();
    // The commit settles before the next one: its final verdict is the one to check.
    const deadline = performance.now() + 60_000;
    while (
      (final(sha, "sync").length === 0 || final(sha, "workload").length === 0) &&
      performance.now() < deadline
    ) await sleep(100);
  }
  await sleep(2_000); // any late repeat would show now
  for (const r of replicas.values()) await r.stop();
  await api.close();
  await Deno.remove(dir, { recursive: true });
  let lost = 0, wrong = 0, duplicates = 0;
  for (const [sha, want] of expected) {
    for (const action of ["sync", "workload"]) {
      const finals = final(sha, action);
      if (finals.length === 0) lost++;
      else if (finals.some((j) => j.status !== want)) {
        wrong++;
        say(
          `Wrong: ${sha.slice(0, 7)} ${action} wanted ${want}, got ${
            (gl.history.get(sha) ?? []).filter((j) => j.name === `flux-status/chaos/${action}`)
              .map((j) => `${j.status} (${j.description})`).join(" → ")
          }`,
        );
      }
      duplicates += Math.max(0, finals.length - 1);
    }
  }
  const worst = recoveries.length ? Math.max(...recoveries) : 0;
  say(`## Cluster chaos (seed ${SEED})`);
  say("");
  say(
    `| commits × objects | faults | leader kills | lost finals | wrong finals | duplicate finals | recovery after a kill (s, worst) |`,
  );
  say(`| --- | --- | --- | --- | --- | --- | --- |`);
  say(
    `| ${COMMITS} × ${OBJECTS} | ${faults} | ${takeovers} | ${lost} | ${wrong} | ${duplicates} | ${
      recoveries.length ? worst.toFixed(1) : "-"
    } |`,
  );
  say("");
  say(
    `Two replicas with a ${LEASE_S} s Lease; faults at random: dropped watches, a compaction (410), an apiserver restart, a SIGKILL of the leader. Goal: 0 lost, 0 wrong, at most one duplicate per takeover, recovery within the lease duration + 5 s.`,
  );
  say("");
  if (lost > 0 || wrong > 0 || duplicates > takeovers || worst > LEASE_S + 5) {
    console.error("error: the promise broke under cluster chaos (see the counts above)");
    Deno.exitCode = 1;
  }
}

if (!QUICK) {
  const path = new URL("../RELIABILITY.md", import.meta.url).pathname;
  await Deno.writeTextFile(
    path,
    `# Reliability\n\nWritten by \`deno task chaos\` on ${
      new Date().toISOString().slice(0, 10)
    }: ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}. See scripts/chaos.ts for each method.\n\n${
      report.join("\n")
    }\n`,
  );
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", path] }).output();
}
