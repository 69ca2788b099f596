/**
 * Scale probe: drives a daemon subprocess (any checkout's cli.ts, so a before/after can be taken)
 * with fluxd-sized events against the local fake GitHub, and prints what it measured:
 *
 * 1. large events: the answer and its time for each size fluxd really sends;
 * 4. a rate limit: provider calls made in 10 s after the first 429 (25 statuses queued);
 * 5. head first: when the head of a 20-commit sync reached the provider, and its place;
 * 6. a backlog of 10,000 undelivered statuses: the daemon's RSS growth and CPU seconds over 10 s.
 *
 * Usage: `deno run -A scripts/scale_probe.ts [--cli PATH/cli.ts]` (default: this checkout).
 * Loopback only; every loop is bounded.
 *
 * @module
 */
import {
  commitList,
  HEAD,
  resourceErrors,
  syncEvent,
  workloadIds,
} from "../dev/fakes/fluxd_events.ts";
import { startFakeGitHub } from "../dev/fakes/github.ts";
import { procStat, sleep, startDaemonServer } from "./_proc.ts";

const cliArg = Deno.args.indexOf("--cli");
const CLI = cliArg >= 0 ? Deno.args[cliArg + 1]! : new URL("../cli.ts", import.meta.url).pathname;

interface Daemon {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function daemon(apiUrl: string, extra: string[] = []): Promise<Daemon> {
  const store = await Deno.makeTempDir({ prefix: "flux-status-probe-" });
  const server = await startDaemonServer({
    cli: CLI,
    apiUrl,
    store: `${store}/kv.sqlite`,
    permissions: ["-A"],
    extra: ["--poll-workloads=false", ...extra],
  });
  return {
    ...server,
    async stop() {
      await server.stop();
      await Deno.remove(store, { recursive: true });
    },
  };
}

const event = (metadata: Record<string, unknown>, serviceIDs: string[] = []) =>
  JSON.stringify(syncEvent(metadata, serviceIDs));
const commits = commitList;
const errors = resourceErrors;

async function post(url: string, body: string): Promise<{ status: number; ms: number }> {
  const t = performance.now();
  const res = await fetch(`${url}/v6/events`, {
    method: "POST",
    body: new TextEncoder().encode(body),
    signal: AbortSignal.timeout(10_000),
  });
  await res.body?.cancel();
  return { status: res.status, ms: Math.round(performance.now() - t) };
}

console.log(`# scale probe of ${CLI}`);

// 1. Large events.
{
  await using gh = await startFakeGitHub();
  const workloads = workloadIds(700);
  const cases: [string, string][] = [
    [
      "initial sync naming 700 workloads",
      event({ commits: commits(2000), initialSync: true }, workloads),
    ],
    ["sync with 1,500 resource errors", event({ commits: commits(1), errors: errors(1500) })],
    ["20 commits with 900 errors", event({ commits: commits(20), errors: errors(900) })],
    ["initial sync of 150,000 commits", event({ commits: commits(150_000), initialSync: true })],
  ];
  for (const [name, body] of cases) {
    const d = await daemon(gh.url, ["--poll-workloads=true", "--flux-url", "http://127.0.0.1:9"]);
    const r = await post(d.url, body).catch((e) => ({ status: 0, ms: -1, error: String(e) }));
    console.log(
      `1. ${name} (${(body.length / 1e6).toFixed(1)} MB): HTTP ${r.status} in ${r.ms} ms`,
    );
    await d.stop();
  }
}

// 4. A rate limit with 20 statuses queued.
{
  await using gh = await startFakeGitHub();
  for (let i = 0; i < 200; i++) {
    gh.faults.push({
      status: 429,
      headers: { "retry-after": "30" },
      body: { message: "You have exceeded a secondary rate limit." },
    });
  }
  const d = await daemon(gh.url);
  await post(d.url, event({ commits: commits(20) }));
  await gh.waitFor(() => gh.received.length > 0, "first call");
  await sleep(10_000);
  console.log(
    `4. calls to a rate-limited provider (Retry-After 30s) in the 10 s after the first 429: ${gh.received.length}`,
  );
  await d.stop();
}

// 5. Head first.
{
  const arrived: [string, number][] = [];
  const t0 = { at: 0 };
  await using gh = await startFakeGitHub({
    onStatus: (s) => arrived.push([s, performance.now() - t0.at]),
  });
  const d = await daemon(gh.url);
  t0.at = performance.now();
  await post(d.url, event({ commits: commits(20) }));
  await gh.waitFor(() => arrived.length >= 20, "20 statuses");
  const place = arrived.findIndex(([s]) => s === HEAD);
  console.log(
    `5. head of a 20-commit sync reached the provider ${
      Math.round(arrived[place]![1])
    } ms after the event, as status ${place + 1} of 20`,
  );
  await d.stop();
}

// 6. A backlog of 10,000 undelivered statuses (the provider unreachable).
{
  const d = await daemon("http://127.0.0.1:9");
  await sleep(1000);
  const before = procStat(d.pid);
  let refused = 0;
  for (let e = 0; e < 500; e++) {
    const r = await post(d.url, event({ commits: commits(20, 1000 + e * 20) }));
    if (r.status !== 200) refused++;
  }
  const queued = procStat(d.pid);
  await sleep(10_000);
  const after = procStat(d.pid);
  console.log(
    `6. 10,000 undelivered statuses: RSS ${Math.round(before.rssMb)} → ${
      Math.round(after.rssMb)
    } MB (+${Math.round(after.rssMb - before.rssMb)} MB), CPU ${
      (after.cpuS - queued.cpuS).toFixed(1)
    } s over the next 10 s, ${refused} events refused`,
  );
  await d.stop();
}
