/**
 * `deno task bench [--quick]`: speed and memory of the daemon and the CLI, each figure beside a
 * baseline measured in the same run on the same machine (the median of alternating rounds, as
 * these machines are noisy), written to BENCHMARKS.md. Everything runs on loopback; every loop is
 * bounded. `--quick` runs fewer rounds and smaller loads (under a minute).
 *
 * Rows: idle RSS with fluxd connected vs a bare `Deno.serve`; events/s durably
 * acknowledged vs a minimal server doing one KV commit; added latency from an event to its
 * status at the provider; `status` wall time vs curl; RSS growth with 10,000 statuses queued;
 * provider calls per final status; RPC calls per rollout watch and CPU; with `--kubernetes`, idle
 * RSS with 1,000 Flux objects watched, CPU per hour and writes per commit at 10 commits an hour
 * through them, the writes and time a 200-object commit costs, and 5,000 objects (start, RSS,
 * relist after a 410).
 *
 * @module
 */
import { PERMISSIONS, RUNTIME_FLAGS } from "./compile.ts";
import { commitList, shaOf, syncEvent } from "../dev/fakes/fluxd_events.ts";
import { FakeFluxd } from "../dev/fakes/fluxd.ts";
import { startFakeGitHub } from "../dev/fakes/github.ts";
import { procStat, sleep, startDaemonServer, startServer } from "./_proc.ts";
import { startKubeApiserver } from "../dev/fakes/kube_apiserver.ts";
import { flux, gitRepository, writeKubeconfig } from "../tests/_kube.ts";

const QUICK = Deno.args.includes("--quick");
const ROUNDS = QUICK ? 1 : 3;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const rows: { figure: string; value: string; baseline: string; ratio: string; target: string }[] =
  [];

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number) =>
  xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const fixed = (n: number, d = 1) => n.toFixed(d);

async function tempStore(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "flux-status-bench-" });
  return {
    path: `${dir}/kv.sqlite`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The daemon, from source, under the release binaries' permissions and runtime flags. */
function daemon(apiUrl: string, store: string, extra: string[] = []) {
  return startDaemonServer({ cli: CLI, apiUrl, store, permissions: PERMISSIONS, extra });
}

/** A baseline server script, written to a temp file in scripts/ (the import map applies) and run with -A. */
async function baseline(source: string) {
  const dir = new URL(".", import.meta.url).pathname;
  const file = await Deno.makeTempFile({ dir, prefix: ".bench-", suffix: ".ts" });
  await Deno.writeTextFile(file, source);
  const server = await startServer(["-A", "--unstable-kv", file]);
  return {
    ...server,
    async stop() {
      const status = await server.stop();
      await Deno.remove(file);
      return status;
    },
  };
}

const HELLO =
  `Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hello"));`;
const MINIMAL = `
const kv = await Deno.openKv(await Deno.makeTempFile());
let n = 0;
Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
  const event = JSON.parse(await req.text());
  await kv.set(["event", n++], event.metadata?.commits?.[0]?.revision ?? "");
  return Response.json({ ok: true });
});`;

/**
 * The floor under the daemon's RSS: a bare server with the store open and the libraries the daemon
 * keeps loaded (event validation, logging, the GitHub client), doing nothing else.
 */
const FLOOR_RSS = `
await Deno.openKv(await Deno.makeTempFile());
await import("valibot");
await import("@logtape/logtape");
await import("@octokit/core");
${HELLO}`;
/** The floor under events/s: the minimal server writing what the outbox writes, a row per status. */
const MINIMAL_ROWS = `
const kv = await Deno.openKv(await Deno.makeTempFile());
let n = 0;
Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
  const event = JSON.parse(await req.text());
  const op = kv.atomic();
  for (const c of event.metadata.commits) {
    op.set(["outbox", c.revision, "sync"], {
      sha: c.revision,
      action: "sync",
      status: { name: "flux-status/default/sync", state: "succeeded", description: "Synced" },
      attempts: 0,
      enqueuedAt: Date.now(),
      rank: [0, Number.MAX_SAFE_INTEGER - n++, 0],
    });
  }
  await op.commit();
  return Response.json({ ok: true });
});`;

const post = async (url: string, body: string) => {
  const res = await fetch(`${url}/v6/events`, { method: "POST", body });
  await res.body?.cancel();
  if (res.status !== 200) throw new Error(`event answered ${res.status}`);
};

/**
 * A fake apiserver serving the GitRepository of acme/app at `sha` and `objects - 1` Kustomizations
 * Ready at it, and a `--kubernetes` daemon reading it through a JSON kubeconfig (no YAML parser: as
 * in a pod); `started` is when the daemon was started.
 */
async function fleet(apiUrl: string, store: string, objects: number, sha: string) {
  const api = startKubeApiserver();
  const dir = store.slice(0, store.lastIndexOf("/"));
  const { kubeconfig } = await writeKubeconfig(api, dir, { json: true });
  api.apply(gitRepository(sha, FLEET_REPO));
  for (let i = 0; i < objects - 1; i++) {
    api.apply(flux("kustomization-apps-ready", { c1: sha, name: `app-${i}` }));
  }
  const started = performance.now();
  const d = await daemon(apiUrl, store, [
    "--kubernetes",
    "--kubeconfig",
    kubeconfig,
    "--git-url",
    FLEET_REPO,
  ]);
  return { api, d, started };
}

/** The repository of the --kubernetes rows: the fake GitHub's. */
const FLEET_REPO = "ssh://git@github.com/acme/app";

/** Row 1's idle RSS of the daemon with fluxd connected: the baseline of the --kubernetes rows. */
let idleRss = 0;

// 1. Idle RSS with fluxd connected, vs a bare Deno.serve hello world.
{
  const ours: number[] = [], bare: number[] = [], floor: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await using gh = await startFakeGitHub();
    await using store = await tempStore();
    const d = await daemon(gh.url, store.path);
    const fluxd = new FakeFluxd({ connect: d.connect });
    fluxd.start();
    await fluxd.waitFor(() => fluxd.connected, "connection");
    await sleep(QUICK ? 1000 : 3000);
    ours.push(procStat(d.pid).rssMb);
    await fluxd[Symbol.asyncDispose]();
    await d.stop();
    const b = await baseline(HELLO);
    await fetch(b.url).then((res) => res.body?.cancel());
    await sleep(QUICK ? 1000 : 3000);
    bare.push(procStat(b.pid).rssMb);
    await b.stop();
    const f = await baseline(FLOOR_RSS);
    await fetch(f.url).then((res) => res.body?.cancel());
    await sleep(QUICK ? 1000 : 3000);
    floor.push(procStat(f.pid).rssMb);
    await f.stop();
  }
  const [o, b, f] = [median(ours), median(bare), median(floor)];
  idleRss = o;
  rows.push({
    figure: "idle RSS, fluxd connected (MiB)",
    value: fixed(o),
    baseline: `${fixed(b)} (bare Deno.serve); floor ${
      fixed(f)
    } (+ KV, valibot, logtape, @octokit/core)`,
    ratio: `${fixed(o / b, 2)}× (${fixed(o / f, 2)}× floor)`,
    target: "≤ 1.5× and < 64 MiB",
  });
}

// 2. Events/s durably acknowledged, provider down, polling off, sequential POSTs.
{
  const n = QUICK ? 150 : 500;
  const events = Array.from(
    { length: n },
    (_, i) => JSON.stringify(syncEvent({ commits: commitList(2, 10_000 + i * 2) })),
  );
  const rate = async (url: string) => {
    for (const e of events.slice(0, 20)) await post(url, e); // warm up
    const t = performance.now();
    for (const e of events.slice(20)) await post(url, e);
    return (n - 20) / ((performance.now() - t) / 1000);
  };
  const ours: number[] = [], minimal: number[] = [], floor: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await using store = await tempStore();
    const d = await daemon("http://127.0.0.1:9", store.path, ["--poll-workloads=false"]);
    ours.push(await rate(d.url));
    await d.stop();
    const b = await baseline(MINIMAL);
    minimal.push(await rate(b.url));
    await b.stop();
    const f = await baseline(MINIMAL_ROWS);
    floor.push(await rate(f.url));
    await f.stop();
  }
  const [o, b, f] = [median(ours), median(minimal), median(floor)];
  rows.push({
    figure: "events/s durably acknowledged (2 commits an event)",
    value: fixed(o, 0),
    baseline: `${fixed(b, 0)} (Deno.serve + one KV commit of 1 row); floor ${
      fixed(f, 0)
    } (the same, 1 row per status)`,
    ratio: `${fixed(o / b, 2)}× (${fixed(o / f, 2)}× floor)`,
    target: "≥ 0.7×",
  });
}

// 3. Added latency: event POST → status at a loopback fake, minus a bare fetch round trip.
{
  const n = QUICK ? 4 : 12;
  const arrived = new Map<string, number>();
  await using gh = await startFakeGitHub({
    onStatus: (sha) => arrived.set(sha, performance.now()),
  });
  await using store = await tempStore();
  const d = await daemon(gh.url, store.path, ["--poll-workloads=false"]);
  const added: number[] = [];
  for (let i = 0; i < n; i++) {
    const sha = shaOf(50_000 + i);
    const body = JSON.stringify(syncEvent({ commits: [{ revision: sha, message: "x" }] }));
    // A bare round trip to the same fake (GitHub's own create call, no daemon).
    const t0 = performance.now();
    await fetch(`${gh.url}/repos/acme/app/statuses/${shaOf(90_000 + i)}`, {
      method: "POST",
      headers: { authorization: "token test-token", "user-agent": "bench" },
      body: JSON.stringify({ state: "success", context: "bench" }),
    }).then((r) => r.body?.cancel());
    const bare = performance.now() - t0;
    const t = performance.now();
    await post(d.url, body);
    while (!arrived.has(sha) && performance.now() - t < 10_000) await sleep(1);
    added.push(arrived.get(sha)! - t - bare);
    await sleep(1100); // GitHub asks for ≥ 1 s between writes: bursts are judged elsewhere
  }
  await d.stop();
  rows.push({
    figure: "added latency event → provider (ms)",
    value: `p50 ${fixed(median(added))}, p95 ${fixed(pct(added, 0.95))}`,
    baseline: "a bare fetch round trip, subtracted",
    ratio: "",
    target: "p50 ≤ 5, p95 ≤ 20",
  });
}

// 4. `status` wall time against a loopback fake, vs curl of the same GET.
{
  await using gh = await startFakeGitHub();
  const sha = shaOf(1);
  await fetch(`${gh.url}/repos/acme/app/statuses/${sha}`, {
    method: "POST",
    headers: { authorization: "token test-token", "user-agent": "bench" },
    body: JSON.stringify({ state: "success", context: "flux-status/dev/workload" }),
  }).then((r) => r.body?.cancel());
  const time = async (cmd: string, args: string[]) => {
    const t = performance.now();
    const out = await new Deno.Command(cmd, {
      args,
      env: { GITHUB_TOKEN: "test-token" },
      stdout: "null",
      stderr: "null",
    }).output();
    if (!out.success) throw new Error(`${cmd} failed`);
    return performance.now() - t;
  };
  const cli = [
    "run",
    ...RUNTIME_FLAGS,
    ...PERMISSIONS,
    "--quiet",
    CLI,
    "status",
    "--instance",
    "dev",
    "--git-url",
    "git@github.com:acme/app.git",
    "--api-url",
    gh.url,
    "--commit-id",
    sha,
  ];
  const curl = [
    "-sf",
    "-o",
    "/dev/null",
    "-H",
    "authorization: token test-token",
    `${gh.url}/repos/acme/app/commits/${sha}/statuses?per_page=100`,
  ];
  // The floor: the runtime starting a script that does the same GET with fetch, nothing else.
  const dir = new URL(".", import.meta.url).pathname;
  const getter = await Deno.makeTempFile({ dir, prefix: ".bench-", suffix: ".ts" });
  await Deno.writeTextFile(
    getter,
    `const res = await fetch(${
      JSON.stringify(curl.at(-1))
    }, { headers: { authorization: "token test-token" } });
console.log((await res.json()).length);`,
  );
  const bare = ["run", ...PERMISSIONS, "--quiet", getter];
  const ours: number[] = [], base: number[] = [], floor: number[] = [];
  await time(Deno.execPath(), cli); // warm
  await time(Deno.execPath(), bare);
  for (let i = 0; i < 5; i++) {
    ours.push(await time(Deno.execPath(), cli));
    base.push(await time("curl", curl));
    floor.push(await time(Deno.execPath(), bare));
  }
  await Deno.remove(getter);
  rows.push({
    figure: "`status` wall time (ms)",
    value: fixed(median(ours), 0),
    baseline: `${fixed(median(base), 0)} (curl, same GET); floor ${
      fixed(median(floor), 0)
    } (deno run of a fetch of it)`,
    ratio: `${fixed(median(ours) / median(base), 1)}× (${
      fixed(median(ours) / median(floor), 2)
    }× floor)`,
    target: "≤ 100 ms",
  });
}

// 5. RSS growth with 10,000 undelivered statuses queued (provider unreachable).
{
  const events = QUICK ? 100 : 500;
  await using store = await tempStore();
  const d = await daemon("http://127.0.0.1:9", store.path, ["--poll-workloads=false"]);
  await sleep(1000);
  const before = procStat(d.pid).rssMb;
  for (let e = 0; e < events; e++) {
    await post(d.url, JSON.stringify(syncEvent({ commits: commitList(20, 100_000 + e * 20) })));
  }
  await sleep(QUICK ? 2000 : 5000);
  const after = procStat(d.pid).rssMb;
  await d.stop();
  rows.push({
    figure: `RSS growth, ${events * 20} statuses queued (MiB)`,
    value: `+${fixed(after - before)}`,
    baseline: `${fixed(before)} before`,
    ratio: "",
    target: "≤ 50 MB (for 10,000)",
  });
}

// 6. Provider calls per final status: 25 commits, each sync event sent 4 times, GitHub 200 ms late.
{
  const commits = QUICK ? 10 : 25;
  await using gh = await startFakeGitHub({ answerDelayMs: 200 });
  await using store = await tempStore();
  const d = await daemon(gh.url, store.path, ["--poll-workloads=false"]);
  for (let c = 0; c < commits; c++) {
    const body = JSON.stringify(
      syncEvent({ commits: [{ revision: shaOf(200_000 + c), message: "x" }] }),
    );
    for (let i = 0; i < 4; i++) await post(d.url, body);
  }
  const posts = () => gh.received.filter((r) => r.method === "POST").length;
  const deadline = performance.now() + 120_000;
  while (posts() < commits && performance.now() < deadline) await sleep(100);
  await sleep(2000); // any late repeat would show now
  await d.stop();
  rows.push({
    figure: `provider calls per final status (${commits * 4} events, ${commits} commits)`,
    value: fixed(posts() / commits, 2),
    baseline: "1.00 (one call per final status)",
    ratio: "",
    target: "≤ 1.1",
  });
}

// 7. RPC calls per rollout watch, and CPU, over 100 syncs that each start a watch.
{
  const syncs = QUICK ? 20 : 100;
  await using gh = await startFakeGitHub();
  await using store = await tempStore();
  const d = await daemon(gh.url, store.path, ["--poll-interval", "1s"]);
  const ready = new Set<string>();
  const fluxd = new FakeFluxd({
    connect: d.connect,
    services: () =>
      Array.from({ length: syncs }, (_, i) => ({
        ID: `apps:deployment/app-${i}`,
        Status: ready.has(`apps:deployment/app-${i}`) ? "ready" : "updating",
      })),
  });
  fluxd.start();
  await fluxd.waitFor(() => fluxd.connected, "connection");
  const cpu0 = procStat(d.pid).cpuS;
  for (let i = 0; i < syncs; i++) {
    const event = syncEvent(
      { commits: [{ revision: shaOf(300_000 + i), message: "x" }] },
      [`apps:deployment/app-${i}`],
    );
    await post(d.url, JSON.stringify(event));
  }
  await sleep(3000);
  for (let i = 0; i < syncs; i++) ready.add(`apps:deployment/app-${i}`);
  const head = shaOf(300_000 + syncs - 1);
  const deadline = performance.now() + 60_000;
  const done = () =>
    gh.statusesOf(head).some((s) =>
      s.context === "flux-status/default/workload" && s.state === "success"
    );
  while (!done() && performance.now() < deadline) await sleep(100);
  const cpu = procStat(d.pid).cpuS - cpu0;
  const calls = fluxd.requests.filter((r) => r.method === "RPCServer.ListServices").length;
  await fluxd[Symbol.asyncDispose]();
  await d.stop();
  rows.push({
    figure: `RPC calls per rollout watch (${syncs} syncs, each superseding the last)`,
    value: fixed(calls / syncs, 2),
    baseline: `${calls} ListServices in all, CPU ${fixed(cpu, 2)} s`,
    ratio: "",
    target: "measured",
  });
}

// 8. --kubernetes: idle RSS with 1,000 Flux objects watched; a 200-object commit's writes and the
// time from its last object Ready to the roll-up landing at the provider.
{
  const C1 = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
  const C2 = "9b1e4d7a2c5f8e0b3d6a9c2f5e8b1d4a7c0f3e62";
  const landedAt = new Map<string, number>();
  await using gh = await startFakeGitHub({
    onStatus: (sha, s) => landedAt.set(`${sha} ${s.context} ${s.state}`, performance.now()),
  });
  await using store = await tempStore();
  const { api, d } = await fleet(gh.url, store.path, 1_000, C1);
  const until = async (key: string) => {
    const deadline = performance.now() + 60_000;
    while (!landedAt.has(key) && performance.now() < deadline) await sleep(50);
    if (!landedAt.has(key)) {
      throw new Error(`bench: ${key} never landed; landed: ${[...landedAt.keys()].join(", ")}`);
    }
  };
  await until(`${C1} flux-status/default/workload success`);
  /** Moves `objects` Kustomizations to `sha`, pending then Ready; returns last Ready → landed, s. */
  const commitThrough = async (sha: string, objects: number) => {
    api.apply(gitRepository(sha, FLEET_REPO));
    for (let i = 0; i < objects; i++) {
      api.apply(flux("kustomization-apps-progressing", { c1: sha, name: `app-${i}` }));
    }
    await until(`${sha} flux-status/default/workload pending`);
    for (let i = 0; i < objects; i++) {
      api.apply(flux("kustomization-apps-ready", { c1: sha, name: `app-${i}` }));
    }
    const lastReady = performance.now();
    await until(`${sha} flux-status/default/workload success`);
    return (landedAt.get(`${sha} flux-status/default/workload success`)! - lastReady) / 1000;
  };
  // Idle: V8's memory reducer gives back the heap the first list grew after ~30 s of quiet.
  await sleep(35_000);
  const rss = procStat(d.pid).rssMb;
  rows.push({
    figure: "idle RSS, --kubernetes, 1,000 Flux objects watched (MiB)",
    value: fixed(rss),
    baseline: `${fixed(idleRss)} (idle, fluxd connected, row 1; no TLS there)`,
    ratio: `${fixed(rss / idleRss, 2)}×`,
    target: "< 64 MiB",
  });
  // The fleet's hour: 10 commits, each through all 1,000 objects, CPU and writes counted; the
  // rest of the hour idle, at the CPU rate of a quiet minute (bookmarks, renewals, probes).
  {
    const COMMITS = QUICK ? 3 : 10;
    const idle0 = procStat(d.pid).cpuS, idleT0 = performance.now();
    await sleep(QUICK ? 10_000 : 30_000);
    const idleRate = (procStat(d.pid).cpuS - idle0) / ((performance.now() - idleT0) / 1000);
    const cpu0 = procStat(d.pid).cpuS;
    const posts0 = gh.received.filter((r) => r.method === "POST").length;
    let worst = 0;
    for (let c = 0; c < COMMITS; c++) {
      worst = Math.max(worst, await commitThrough(shaOf(800_000 + c), 999));
    }
    await sleep(1_500);
    const cpu = procStat(d.pid).cpuS - cpu0;
    const writes = (gh.received.filter((r) => r.method === "POST").length - posts0) / COMMITS;
    const hour = cpu / COMMITS * 10 + idleRate * 3600;
    rows.push({
      figure: "CPU per hour, --kubernetes, 1,000 objects, 10 commits an hour (s)",
      value: fixed(hour, 1),
      baseline: `${fixed(cpu / COMMITS, 2)} s a commit through 1,000 objects; ${
        fixed(idleRate * 3600, 1)
      } s an idle hour`,
      ratio: `${fixed(hour / 36, 2)}% of a core`,
      target: "measured",
    });
    rows.push({
      figure: "writes per commit through 1,000 objects; GitHub's 500 writes an hour used",
      value: fixed(writes, 1),
      baseline: `${fixed(writes * 10 / 5, 1)}% of the hourly budget at 10 commits an hour`,
      ratio: "",
      target: "≤ 6",
    });
    rows.push({
      figure: "last of 1,000 objects Ready → roll-up at the provider (s, worst commit)",
      value: fixed(worst, 2),
      baseline: "1 s settle + GitHub's 1 write/s pacing",
      ratio: "",
      target: "≤ 5 s",
    });
  }
  // A new commit reaches 200 of the objects (the rest are removed first).
  for (let i = 200; i < 999; i++) api.remove("Kustomization", "flux-system", `app-${i}`);
  const seconds = await commitThrough(C2, 200);
  await sleep(1500); // a late write would show now
  const writes = gh.received.filter((r) => r.method === "POST" && r.path.includes(C2)).length;
  await d.stop();
  await api.close();
  rows.push({
    figure: "writes for a 200-object commit, --kubernetes (roll-up only)",
    value: String(writes),
    baseline: "400+ with one pair per object",
    ratio: "",
    target: "≤ 6",
  });
  rows.push({
    figure: "last object Ready → roll-up at the provider, 200 objects (s)",
    value: fixed(seconds, 2),
    baseline: "1 s settle + GitHub's 1 write/s pacing",
    ratio: "",
    target: "≤ 5 s",
  });
}

// 9. --kubernetes at 5,000 objects: the first list and judgement, RSS, and a relist after a 410.
{
  const N = QUICK ? 2_000 : 5_000;
  const C1 = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
  let landed = 0;
  await using gh = await startFakeGitHub({
    onStatus: (sha, s) => {
      if (sha === C1 && s.context === "flux-status/default/workload" && s.state === "success") {
        landed = performance.now();
      }
    },
  });
  await using store = await tempStore();
  const { api, d, started } = await fleet(gh.url, store.path, N, C1);
  const deadline = performance.now() + 120_000;
  while (!landed && performance.now() < deadline) await sleep(50);
  const firstSeconds = (landed - started) / 1000;
  await sleep(35_000);
  const rss = procStat(d.pid).rssMb;
  // Compacted: every watch gets 410 and its reflector lists all objects again.
  const lists = () =>
    api.requests.filter((r) => r.path.endsWith("/kustomizations") && !r.query.get("watch")).length;
  const before = lists();
  const t0 = performance.now();
  api.compact();
  api.dropWatches();
  while (!(lists() > before && api.watchers === 5) && performance.now() - t0 < 60_000) {
    await sleep(20);
  }
  const relist = (performance.now() - t0) / 1000;
  await d.stop();
  await api.close();
  rows.push({
    figure: `${
      N.toLocaleString("en")
    } Flux objects, --kubernetes: start → roll-up at the provider (s)`,
    value: fixed(firstSeconds, 1),
    baseline: "the daemon's start-up, the list in pages of 100, one judgement",
    ratio: "",
    target: "measured",
  });
  rows.push({
    figure: `${N.toLocaleString("en")} Flux objects: idle RSS (MiB); relist after a 410 (s)`,
    value: `${fixed(rss)}; ${fixed(relist, 2)}`,
    baseline: `${fixed(idleRss)} (idle, fluxd connected, row 1)`,
    ratio: `${fixed(rss / idleRss, 2)}×`,
    target: "measured",
  });
}

const cpuModel = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.+)/)?.[1];
const table = [
  "| figure | flux-status | baseline | ratio | target |",
  "| --- | --- | --- | --- | --- |",
  ...rows.map((r) => `| ${r.figure} | ${r.value} | ${r.baseline} | ${r.ratio} | ${r.target} |`),
].join("\n");
const report = `# Benchmarks

Written by \`deno task bench${QUICK ? " --quick" : ""}\` on ${
  new Date().toISOString().slice(0, 10)
}: ${navigator.hardwareConcurrency} cores (${
  cpuModel ?? "unknown CPU"
}), Deno ${Deno.version.deno}, ${ROUNDS} round${
  ROUNDS === 1 ? "" : "s"
} per ratio (median). Every figure beside a baseline measured in the same run; the daemon (and
\`status\`) runs from source (\`deno run\`) with the release binaries' permissions and runtime
flags (\`RUNTIME_FLAGS\` in scripts/compile.ts). See scripts/bench.ts for each row's method.

${table}
`;
console.log(table);
if (!QUICK) {
  const path = new URL("../BENCHMARKS.md", import.meta.url).pathname;
  await Deno.writeTextFile(path, report);
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", path] }).output();
}
