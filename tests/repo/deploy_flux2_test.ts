/**
 * deploy/flux2/ is the kustomize base of `daemon --kubernetes`: its ServiceAccount, the binding
 * to Flux's read-only `flux-view`, the Role for the replicas' Lease, and a StatefulSet of two
 * replicas (a store volume each, a PodDisruptionBudget, anti-affinity) whose flags, env vars, Secret
 * files, probes and port the real option parser and handler accept. `kubectl kustomize` builds it
 * where kubectl is installed.
 */
import assert from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { parseFlags } from "../../src/cli/args.ts";
import { commandFlags, resolveConfig } from "../../src/config/config.ts";
import { createHandler } from "../../src/server/server.ts";
import { containerConfig } from "./_deploy.ts";

// deno-lint-ignore no-explicit-any -- YAML documents are untyped; the assertions check their shape
type Doc = { kind: string; metadata: { name: string; namespace?: string } } & Record<string, any>;

const BASE = new URL("../../deploy/flux2/", import.meta.url);
const kustomization = parse(await Deno.readTextFile(new URL("kustomization.yaml", BASE)));
const docs: Doc[] = [];
for (const file of kustomization.resources as string[]) {
  const text = await Deno.readTextFile(new URL(file, BASE));
  docs.push(...parseAllDocuments(text).map((d) => d.toJS() as Doc).filter(Boolean));
}
const find = (kind: string, name?: string) => {
  const found = docs.find((d) => d.kind === kind && (!name || d.metadata.name === name));
  assert.ok(found, `no ${kind} ${name ?? ""}`);
  return found;
};

Deno.test("deploy/flux2: the service account reads Flux objects through flux-view, cluster-wide", () => {
  assert.equal(kustomization.namespace, "flux-system");
  const account = find("ServiceAccount");
  const binding = find("ClusterRoleBinding");
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: "flux-view",
  });
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: account.metadata.name,
    namespace: kustomization.namespace,
  }]);
  const pod = find("StatefulSet").spec.template.spec;
  assert.equal(pod.serviceAccountName, account.metadata.name);
  assert.notEqual(pod.automountServiceAccountToken, false, "the in-cluster token is needed");
});

Deno.test("deploy/flux2: two replicas, each with its own store, may hold and renew the Lease of their instance", () => {
  const set = find("StatefulSet");
  assert.equal(set.spec.replicas, 2);
  assert.equal(set.spec.updateStrategy.type, "RollingUpdate");
  const [command, ...args] = set.spec.template.spec.containers[0].args as string[];
  assert.equal(command, "daemon");
  const config = resolveConfig("daemon", {
    flags: parseFlags(args, commandFlags("daemon"), "daemon"),
    env: { GITHUB_TOKEN: "x" },
    readTextFile: () => "",
  });
  const lease = `flux-status-${config.instance}`;
  const role = find("Role", "flux-status-leader");
  type Rule = {
    apiGroups: string[];
    resources: string[];
    verbs: string[];
    resourceNames?: string[];
  };
  const may = (verb: string) =>
    (role.rules as Rule[]).some((r) =>
      r.apiGroups.includes("coordination.k8s.io") && r.resources.includes("leases") &&
      r.verbs.includes(verb) && (!r.resourceNames || r.resourceNames.includes(lease))
    );
  for (const verb of ["get", "create", "update"]) assert.ok(may(verb), `${verb} ${lease}`);
  const binding = find("RoleBinding", "flux-status-leader");
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.equal(binding.subjects[0].name, find("ServiceAccount").metadata.name);
  const store = set.spec.volumeClaimTemplates.find((v: { metadata: { name: string } }) =>
    v.metadata.name === "data"
  );
  assert.ok(store, "a store volume per replica");
  const budget = find("PodDisruptionBudget");
  assert.equal(budget.spec.minAvailable, 1);
  assert.deepEqual(budget.spec.selector.matchLabels, set.spec.selector.matchLabels);
  const anti = set.spec.template.spec.affinity.podAntiAffinity
    .preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
  assert.equal(anti.topologyKey, "kubernetes.io/hostname");
  assert.equal(find("Service").metadata.name, set.spec.serviceName);
});

Deno.test("deploy/flux2: the StatefulSet runs --kubernetes with flags, files, probes and the http-prom port the daemon accepts", async () => {
  const set = find("StatefulSet");
  const pod = set.spec.template.spec;
  const container = pod.containers.find((c: { name: string }) => c.name === "flux-status");
  const config = containerConfig(pod, find);
  const mounts = container.volumeMounts as { name: string; mountPath: string }[];
  assert.equal(config.kubernetes, true);
  assert.ok(config.githubToken);
  assert.equal(config.kubeconfig, undefined, "in a pod: the service account");
  // Flux's NetworkPolicy and PodMonitor scrape a port named http-prom, 8080.
  const port = container.ports.find((p: { name: string }) => p.name === "http-prom");
  assert.equal(port.containerPort, 8080);
  assert.equal(Number(config.listen.split(":").at(-1)), 8080);
  assert.equal(find("Service").spec.ports[0].targetPort, "http-prom");
  const handler = createHandler({ maxEventBytes: 1, notReadyReasons: () => [] });
  for (const probe of [container.livenessProbe, container.readinessProbe]) {
    assert.equal(probe.httpGet.port, "http-prom");
    const res = await handler(new Request(`http://pod:8080${probe.httpGet.path}`));
    assert.equal(res.status, 200, probe.httpGet.path);
    await res.body?.cancel();
  }
  assert.equal(container.readinessProbe.httpGet.path, "/readyz", "says what is wrong");
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  const storeDir = config.store.slice(0, config.store.lastIndexOf("/"));
  const data = mounts.find((m) => m.mountPath === storeDir);
  assert.ok(data, "the KV store needs a volume");
  assert.ok(
    set.spec.volumeClaimTemplates.some((v: { metadata: { name: string } }) =>
      v.metadata.name === data.name
    ),
    "the store is the replica's own claim",
  );
});

const kubectl = await new Deno.Command("kubectl", {
  args: ["version", "--client"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

Deno.test({
  name:
    "deploy/flux2: kubectl kustomize builds the base into every resource it lists, in flux-system",
  ignore: !kubectl,
  async fn() {
    const out = await new Deno.Command("kubectl", {
      args: ["kustomize", new URL(".", BASE).pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const built = parseAllDocuments(new TextDecoder().decode(out.stdout)).map((d) =>
      d.toJS() as Doc
    );
    assert.deepEqual(
      built.map((d) => `${d.kind}/${d.metadata.name}`).sort(),
      docs.map((d) => `${d.kind}/${d.metadata.name}`).sort(),
    );
    for (const d of built) {
      if (!["ClusterRoleBinding"].includes(d.kind)) {
        assert.equal(d.metadata.namespace, "flux-system", d.kind);
      }
    }
  },
});
