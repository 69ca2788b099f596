/**
 * `deno task demo [--provider github|gitlab|azure-devops] [--flux2 | --kubernetes]`: the real
 * daemon against a simulated fluxd (or, with `--flux2`, Flux v2's notification-controller posting
 * signed events; with `--kubernetes`, a fake apiserver serving Flux v2 objects) and a local fake of
 * the provider, printing each commit status as it lands. No cluster, no token, no network.
 *
 * @module
 */
import { startDaemon } from "../daemon.ts";
import { daemonConfig } from "../src/config/config.ts";
import { configureLogging } from "../src/runtime/logging.ts";
import { FakeFluxd } from "../dev/fakes/fluxd.ts";
import { flux2Fixture, postFlux2Event } from "../dev/fakes/notification_controller.ts";
import { PROVIDERS } from "../tests/_providers.ts";
import { startKubeApiserver } from "../dev/fakes/kube_apiserver.ts";
import { flux, gitRepository, writeKubeconfig } from "../tests/_kube.ts";

const HEAD = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a";
const PREVIOUS = "9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d";
const BROKEN = "c0ffee5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d";
// The Flux v2 fixtures' commits: a good one, then a bad one.
const GOOD = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const BAD = "9b1e4d7a2c5f8e0b3d6a9c2f5e8b1d4a7c0f3e62";
const HMAC_KEY = "demo-hmac-key";
const flux2 = Deno.args.includes("--flux2");
const kubernetes = Deno.args.includes("--kubernetes");
const ICONS: Record<string, string> = { pending: "…", succeeded: "✔", failed: "✘", canceled: "⊘" };

const i = Deno.args.indexOf("--provider");
const name = i >= 0 ? Deno.args[i + 1] : "github";
const harness = PROVIDERS.find((p) => p.name === name);
if (!harness) {
  console.error(`error: --provider must be one of ${PROVIDERS.map((p) => p.name).join(", ")}`);
  Deno.exit(2);
}

await configureLogging({ level: "warning", format: "pretty", secrets: [] });
const store = await Deno.makeTempDir({ prefix: "flux-status-demo-" });
await using provider = await harness.start(["demo-token"]);
const apiserver = kubernetes ? startKubeApiserver() : undefined;
const cluster = apiserver ? await writeKubeconfig(apiserver, store) : undefined;
const daemon = await startDaemon(
  daemonConfig({
    ...provider.config,
    instance: "demo",
    [provider.tokenKey]: "demo-token",
    listen: "127.0.0.1:0",
    store: `${store}/kv.sqlite`,
    pollInterval: "400ms",
    ...(cluster
      ? { kubernetes: true, kubeconfig: cluster.kubeconfig }
      : { flux2HmacKey: HMAC_KEY }),
  }),
  { kubernetes: { env: {}, settleMs: 200 } },
);
console.log(
  `flux-status daemon on ${daemon.addr.hostname}:${daemon.addr.port}, fake ${harness.name} at ${provider.config.apiUrl}\n`,
);

// Print every status the provider receives as it lands.
const printed = new Map<string, number>();
/** Prints new statuses as they land, until `done` holds (default: `n` statuses in all). */
const landed = (n: number, done?: () => boolean) =>
  provider.waitFor(() => {
    for (const sha of flux2 || kubernetes ? [GOOD, BAD] : [HEAD, PREVIOUS, BROKEN]) {
      const statuses = provider.statuses(sha);
      for (const s of statuses.slice(printed.get(sha) ?? 0)) {
        console.log(
          `${ICONS[s.state]} ${sha.slice(0, 7)}  ${s.name.padEnd(flux2 ? 54 : 26)} ${
            s.state.padEnd(9)
          } ${s.description}`,
        );
      }
      printed.set(sha, statuses.length);
    }
    return done ? done() : [...printed.values()].reduce((a, b) => a + b, 0) >= n;
  }, done ? "the verdict" : `${n} statuses`);
/** Whether the newest status named `…/suffix` on `sha` is `state`. */
const shows = (sha: string, suffix: string, state: string) => () =>
  provider.statuses(sha).filter((s) => s.name.endsWith(suffix)).at(-1)?.state === state;
const both = (a: () => boolean, b: () => boolean) => () => a() && b();

if (apiserver) {
  // Flux's CRD takes only http(s):// and ssh:// URLs: `git@host:path` is `ssh://git@host/path`.
  const repo = provider.config.gitUrl.replace(/^([^/:]+@[^/:]+):(?!\/\/)/, "ssh://$1/");
  const apply = (what: string, ...objects: ReturnType<typeof flux>[]) => {
    for (const o of objects) apiserver.apply(o);
    console.log(`the cluster: ${what}`);
  };
  console.log(`flux-status reads Flux objects from a fake apiserver at ${apiserver.url}\n`);
  apply(
    "source-controller fetched a good commit; kustomize-controller applied apps and runs its health checks; helm-controller upgraded webapp",
    gitRepository(GOOD, repo),
    flux("kustomization-apps-progressing"),
    flux("helmchart-apps-webapp-ready"),
    flux("helmrelease-webapp-ready"),
  );
  await landed(
    0,
    both(shows(GOOD, "/demo/sync", "succeeded"), shows(GOOD, "/demo/workload", "pending")),
  );
  apply("apps passed its health checks", flux("kustomization-apps-ready"));
  await landed(0, shows(GOOD, "/demo/workload", "succeeded"));
  console.log("");
  apply(
    "then a bad commit: apps applied and failed its health checks; webapp's upgrade failed and was rolled back",
    gitRepository(BAD, repo),
    flux("kustomization-apps-healthcheck-failed"),
    flux("helmrelease-webapp-upgrade-failed-rolled-back"),
  );
  await landed(0, both(shows(BAD, "/demo/sync", "failed"), shows(BAD, "/demo/workload", "failed")));
  await daemon.stop();
  await apiserver.close();
  await Deno.remove(store, { recursive: true });
  console.log(
    `\nOne sync/workload pair per commit, whatever the number of objects: each line is a status the fake ${harness.name} received.`,
  );
  Deno.exit(0);
}

if (flux2) {
  const url = `http://127.0.0.1:${daemon.addr.port}/flux2/events`;
  const post = async (fixture: string, patch = {}) => {
    const status = await postFlux2Event(url, flux2Fixture(fixture, patch), HMAC_KEY);
    console.log(`notification-controller posted ${fixture} (signed): HTTP ${status}`);
  };
  console.log(
    "kustomize-controller applied flux-system/apps at a good commit, then it was healthy:",
  );
  await post("kustomization-progressing.json");
  await post("kustomization-applied.json");
  await landed(0, shows(GOOD, "apps/workload", "succeeded"));
  console.log("\nhelm-controller upgraded a chart (its revision is a chart version, no commit):");
  await post("helmrelease-upgrade-succeeded.json");
  console.log("\nthen a bad commit: applied, and its health check failed:");
  await post("kustomization-progressing.json", {
    timestamp: "2026-08-10T09:56:00Z",
    revision: `main@sha1:${BAD}`,
  });
  await post("kustomization-healthcheck-failed.json");
  await landed(0, shows(BAD, "apps/workload", "failed"));
  await daemon.stop();
  await Deno.remove(store, { recursive: true });
  console.log(
    `\nEach ✔/…/✘ line is a commit status the fake ${harness.name} received from flux-status.`,
  );
  Deno.exit(0);
}

// The simulated cluster: the api Deployment rolls out over a few polls.
const api = (ready: number) => ({
  ID: "default:deployment/api",
  Status: ready === 3 ? "ready" : "updating",
  Rollout: {
    Desired: 3,
    Updated: ready,
    Ready: ready,
    Available: ready,
    Outdated: 3 - ready,
    Messages: null,
  },
  SyncError: "",
  ReadOnly: "",
});
let polls = 0;
await using fluxd = new FakeFluxd({
  connect: `ws://127.0.0.1:${daemon.addr.port}`,
  services: () => [api(Math.min(3, Math.floor(polls++ / 2)))],
});
fluxd.start();
await fluxd.waitFor(() => fluxd.connected, "fluxd to connect");
console.log("fluxd connected; it synced two commits:");
await fluxd.postEvent(syncEvent([HEAD, PREVIOUS], []));
await landed(6);

console.log("\nthen a commit whose manifest does not apply:");
await fluxd.postEvent(syncEvent([BROKEN], [{
  ID: "default:deployment/api",
  Path: "apps/api/deployment.yaml",
  Error:
    "running kubectl: exit status 1, stderr: spec.template.spec.containers[0].image: Required value",
}]));
await landed(8);

await daemon.stop();
await Deno.remove(store, { recursive: true });
console.log(
  `\nEach line above is a commit status the fake ${harness.name} received from flux-status.`,
);

function syncEvent(commits: string[], errors: unknown[]) {
  const now = new Date().toISOString();
  return {
    id: 0,
    serviceIDs: ["default:deployment/api", "default:service/api"],
    type: "sync",
    startedAt: now,
    endedAt: now,
    logLevel: "info",
    metadata: {
      commits: commits.map((revision) => ({ revision, message: "demo commit" })),
      includes: { other: true },
      ...(errors.length ? { errors } : {}),
    },
  };
}
