/**
 * The Kubernetes client's parts apart from any server: where credentials are found (kubeconfig
 * merging, the pod's account, token re-reads, exec plugins, refusals) and how a reflector lists,
 * re-watches, lists again after 410 and backs off, on a hand-driven clock.
 */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import {
  CredentialsError,
  fileToken,
  loadCredentials,
  TOKEN_REREAD_MS,
} from "../../src/sources/kubernetes/credentials.ts";
import {
  KubeApi,
  KubeError,
  type KubeObject,
  type WatchEvent,
} from "../../src/sources/kubernetes/api.ts";
import { startKubeApiserver } from "../../dev/fakes/kube_apiserver.ts";
import { Reflector } from "../../src/sources/kubernetes/reflector.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/** A file system of a few files. */
function files(map: Record<string, string>) {
  return (path: string) =>
    path in map ? Promise.resolve(map[path]!) : Promise.reject(new Deno.errors.NotFound(path));
}

Deno.test("KUBECONFIG files merge: the first to set a value wins; relative paths follow their file", async () => {
  const read = files({
    "/a/config": "current-context: prod\nusers:\n- name: me\n  user: {token: first}\n",
    "/b/config": [
      "current-context: dev",
      "contexts:",
      "- {name: prod, context: {cluster: c, user: me, namespace: apps}}",
      "clusters:",
      "- {name: c, cluster: {server: 'https://kube.example:6443/', certificate-authority: ca.pem}}",
      "users:",
      "- name: me",
      "  user: {token: second}",
    ].join("\n"),
    "/b/ca.pem": CA,
  });
  const c = await loadCredentials({
    env: { KUBECONFIG: "/a/config::/missing:/b/config" },
    readTextFile: read,
    clock: new ManualClock(),
  });
  assert.equal(c.server, "https://kube.example:6443");
  assert.deepEqual(c.caCerts, [CA]);
  assert.equal(await c.token(), "first");
  assert.equal(c.namespace, "apps");
  assert.match(c.source, /context 'prod'/);
});

Deno.test("in a pod: the service account, IPv6 bracketed, the token read again each minute", async () => {
  const map: Record<string, string> = {
    "/sa/ca.crt": CA,
    "/sa/token": "token-1\n",
    "/sa/namespace": "flux-system",
  };
  const clock = new ManualClock();
  const c = await loadCredentials({
    env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443", KUBECONFIG: "/x" },
    serviceAccountDir: "/sa",
    readTextFile: files(map),
    clock,
  });
  assert.equal(c.server, "https://[fd00::1]:6443");
  assert.equal(c.namespace, "flux-system");
  assert.equal(await c.token(), "token-1");
  map["/sa/token"] = "token-2";
  assert.equal(await c.token(), "token-1", "cached within the minute");
  clock.advance(TOKEN_REREAD_MS);
  assert.equal(await c.token(), "token-2");
  delete map["/sa/token"];
  clock.advance(TOKEN_REREAD_MS);
  assert.equal(await c.token(), "token-2", "a rotation in progress keeps the last token");
});

Deno.test("--kubeconfig wins over the pod's account; client certificates and exec plugins", async () => {
  const clock = new ManualClock();
  const calls: string[] = [];
  const kubeconfig = [
    "current-context: x",
    "contexts: [{name: x, context: {cluster: c, user: u}}]",
    `clusters: [{name: c, cluster: {server: 'https://k:443', certificate-authority-data: ${
      btoa(CA)
    }}}]`,
    "users:",
    "- name: u",
    "  user:",
    `    client-certificate-data: ${btoa("CERT")}`,
    `    client-key-data: ${btoa("KEY")}`,
    "    exec: {command: get-token, args: [--cluster, c], env: [{name: A, value: b}]}",
  ].join("\n");
  const c = await loadCredentials({
    kubeconfig: "/k",
    env: { KUBERNETES_SERVICE_HOST: "10.0.0.1" },
    readTextFile: files({ "/k": kubeconfig }),
    runPlugin: (command, args, env) => {
      calls.push(`${command} ${args.join(" ")} A=${env.A}`);
      const expirationTimestamp = new Date(clock.now() + 600_000).toISOString();
      return Promise.resolve(
        JSON.stringify({ status: { token: `t${calls.length}`, expirationTimestamp } }),
      );
    },
    clock,
  });
  assert.equal(c.server, "https://k:443");
  assert.deepEqual(c.caCerts, [CA]);
  assert.deepEqual(c.clientCert, { cert: "CERT", key: "KEY" });
  assert.equal(await c.token(), "t1");
  assert.equal(await c.token(), "t1", "kept until it expires");
  clock.advance(600_000);
  assert.equal(await c.token(), "t2");
  assert.deepEqual(calls[0], "get-token --cluster c A=b");
});

Deno.test("credentials that cannot work are refused with the reason", async () => {
  const clock = new ManualClock();
  const refused = async (kubeconfig: string, pattern: RegExp) => {
    await assert.rejects(
      loadCredentials({
        kubeconfig: "/k",
        env: {},
        readTextFile: files({ "/k": kubeconfig }),
        clock,
      }),
      (err: Error) => err instanceof CredentialsError && pattern.test(err.message),
    );
  };
  await refused("clusters: []", /has no current context/);
  await refused(
    "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: 'https://k', insecure-skip-tls-verify: true}}]",
    /skips TLS verification/,
  );
  await refused(": not yaml : [", /is not YAML/);
  await assert.rejects(
    loadCredentials({ kubeconfig: "/nope", env: {}, readTextFile: files({}), clock }),
    /Cannot read the kubeconfig '\/nope' \(NotFound\)/,
  );
  await assert.rejects(
    loadCredentials({ env: {}, readTextFile: files({}), clock }),
    /not in a pod, and no --kubeconfig, KUBECONFIG or HOME/,
  );
});

const RESOURCE = { group: "g.io", version: "v1", plural: "things", kind: "Thing" };
const obj = (name: string, rv: number): KubeObject => ({
  metadata: { name, namespace: "ns", resourceVersion: String(rv) },
});

/** A scripted apiserver: each list and watch call takes the next answer. */
function scripted(
  lists: (() => { items: KubeObject[]; resourceVersion: string })[],
  watches: (() => WatchEvent[])[],
) {
  const calls: string[] = [];
  return {
    calls,
    list() {
      calls.push("list");
      const next = lists.shift();
      if (!next) return new Promise<never>(() => {});
      try {
        return Promise.resolve(next());
      } catch (err) {
        return Promise.reject(err);
      }
    },
    watch(_r: unknown, _ns: unknown, rv: string, { signal }: { signal?: AbortSignal }) {
      calls.push(`watch ${rv}`);
      const next = watches.shift();
      return (async function* () {
        if (!next) {
          await new Promise((_, reject) => signal?.addEventListener("abort", reject));
          return;
        }
        yield* next();
      })();
    },
  };
}

const forbidden = () =>
  new KubeError("Cannot list things.g.io: 403 Forbidden", {
    status: 403,
    reason: "Forbidden",
    verb: "list",
    resource: "things.g.io",
  });

Deno.test("reflector: list, watch, re-watch from the last version; 410 lists again and drops what vanished", async () => {
  const clock = new ManualClock();
  const api = scripted(
    [
      () => ({ items: [obj("a", 5), obj("b", 6)], resourceVersion: "10" }),
      () => ({ items: [obj("a", 20)], resourceVersion: "21" }),
    ],
    [
      () => [{ type: "MODIFIED", object: obj("a", 11) }, { type: "BOOKMARK", object: obj("", 15) }],
      () => {
        throw new KubeError("gone", {
          status: 410,
          reason: "Expired",
          verb: "watch",
          resource: "things.g.io",
        });
      },
    ],
  );
  let changes = 0;
  const r = new Reflector({ api, resource: RESOURCE, clock, onChange: () => changes++ });
  const stop = new AbortController();
  const running = r.run(stop.signal);
  await waitUntil(() => api.calls.length >= 5);
  assert.deepEqual(api.calls.slice(0, 5), ["list", "watch 10", "watch 15", "list", "watch 21"]);
  assert.deepEqual([...r.objects.keys()], ["ns/a"]);
  assert.equal(r.objects.get("ns/a")?.metadata.resourceVersion, "20");
  assert.ok(changes >= 3);
  assert.equal(r.problem, undefined);
  stop.abort();
  await running;
});

Deno.test("reflector: a refused list backs off 0.8 s, doubling, and says why until it recovers", async () => {
  const clock = new ManualClock();
  const api = scripted(
    [() => {
      throw forbidden();
    }, () => {
      throw forbidden();
    }, () => ({ items: [], resourceVersion: "1" })],
    [],
  );
  const r = new Reflector({ api, resource: RESOURCE, clock, onChange: () => {}, random: () => 0 });
  const stop = new AbortController();
  const running = r.run(stop.signal);
  await waitUntil(() => clock.sleeping > 0);
  assert.match(r.problem?.message ?? "", /403 Forbidden/);
  assert.equal(api.calls.length, 1);
  clock.advance(799);
  await tick();
  assert.equal(api.calls.length, 1, "no call before the backoff ends");
  clock.advance(1);
  await waitUntil(() => api.calls.length === 2 && clock.sleeping > 0);
  clock.advance(1_599);
  await tick();
  assert.equal(api.calls.length, 2, "the second backoff is twice as long");
  clock.advance(1);
  await waitUntil(() => r.synced);
  assert.equal(r.problem, undefined);
  stop.abort();
  await running;
});

Deno.test("reflector: the list's answer as received is garbage once trimmed, while the watch waits", async () => {
  // With 1,000 Kustomizations the answer's inventories were 2.5 MiB kept for the watch's life.
  const gc = exposedGc();
  const clock = new ManualClock();
  let received: WeakRef<KubeObject> | undefined;
  const api = scripted([() => {
    const items = [obj("a", 5), obj("b", 6)];
    received = new WeakRef(items[0]!);
    return { items, resourceVersion: "10" };
  }], []);
  const r = new Reflector({
    api,
    resource: RESOURCE,
    clock,
    onChange: () => {},
    transform: (o) => ({ metadata: { ...o.metadata } }),
  });
  const stop = new AbortController();
  const running = r.run(stop.signal);
  await waitUntil(() => api.calls.length === 2);
  assert.deepEqual(api.calls, ["list", "watch 10"]);
  await tick();
  gc();
  assert.equal(received?.deref(), undefined, "the list's objects are still held");
  assert.deepEqual([...r.objects.keys()], ["ns/a", "ns/b"]);
  stop.abort();
  await running;
});

/** V8's `gc()`, exposed for this process (node:v8 and node:vm, as Node's own tests do). */
function exposedGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc");
}

async function tick(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

async function waitUntil(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !predicate(); i++) await tick();
  assert.ok(predicate(), "condition not reached");
}

Deno.test("a rotated token refused with 401 is read again at once, not at the next minute", async () => {
  const fake = startKubeApiserver();
  const files: Record<string, string> = { "/t": fake.token };
  const clock = new ManualClock();
  const api = new KubeApi({
    server: fake.url,
    caCerts: [fake.ca],
    token: fileToken("/t", (p) => Promise.resolve(files[p]!), clock),
    source: "test",
    files: ["/t"],
  });
  try {
    assert.deepEqual((await api.list(RESOURCE_FLUX, undefined)).items, []);
    fake.token = files["/t"] = "rotated-token";
    assert.deepEqual((await api.list(RESOURCE_FLUX, undefined)).items, []);
    assert.equal(fake.requests.filter((r) => r.status === 401).length, 1);
    // A token that stays refused is an error naming the 401, after one fresh read.
    fake.token = "another";
    await assert.rejects(api.list(RESOURCE_FLUX, undefined), /refused the credentials \(401/);
  } finally {
    api.close();
    await fake.close();
  }
});

const RESOURCE_FLUX = {
  group: "kustomize.toolkit.fluxcd.io",
  version: "v1",
  plural: "kustomizations",
  kind: "Kustomization",
};
