/**
 * deploy/flux2-webhook/ is what a Flux v2 user of the webhook mode applies: its Provider, Alert, Secrets, Deployment and
 * Service must fit together and use only what the daemon really accepts. The container is
 * resolved through the real option parser and config; the probes and the webhook address are
 * asked of the real handler.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { envName, OPTION_META } from "../../src/config/config.ts";
import { createHandler } from "../../src/server/server.ts";
import { containerConfig } from "./_deploy.ts";

// deno-lint-ignore no-explicit-any -- YAML documents are untyped; the assertions check their shape
type Doc = { kind: string; metadata: { name: string; namespace?: string } } & Record<string, any>;

const docs = parseAllDocuments(
  await Deno.readTextFile(new URL("../../deploy/flux2-webhook/flux-status.yaml", import.meta.url)),
).map((d) => d.toJS() as Doc).filter(Boolean);
const find = (kind: string, name?: string) =>
  docs.find((d) => d.kind === kind && (!name || d.metadata.name === name))!;

const KNOWN_ENV = new Set(
  Object.entries(OPTION_META).flatMap(([key, meta]) => [
    envName(key),
    ...(meta.env ?? []),
    ...(meta.secret ? [`${envName(key)}_FILE`] : []),
  ]),
);

Deno.test("deploy/flux2-webhook: Provider, Alert and Secret send every event, signed, to the Service", async () => {
  const provider = find("Provider");
  const alert = find("Alert");
  assert.equal(provider.spec.type, "generic-hmac");
  const webhook = find("Secret", provider.spec.secretRef.name);
  assert.ok(webhook.stringData.token, "the HMAC key");
  assert.equal(alert.spec.providerRef.name, provider.metadata.name);
  assert.equal(alert.spec.eventSeverity, "info", "Progressing and success events are info");
  assert.equal(alert.spec.inclusionList, undefined);
  assert.equal(alert.spec.exclusionList, undefined);
  assert.ok(alert.spec.eventSources.some((s: { kind: string }) => s.kind === "Kustomization"));
  assert.ok(alert.spec.eventSources.some((s: { kind: string }) => s.kind === "HelmRelease"));

  const service = find("Service");
  const address = new URL(webhook.stringData.address);
  assert.equal(
    address.hostname,
    `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`,
  );
  assert.equal(Number(address.port), service.spec.ports[0].port);
  // The address's path is the daemon's Flux v2 route.
  const handler = createHandler({
    maxEventBytes: 1,
    onEvent: () => Promise.resolve({ statuses: 0 }),
    onFlux2Event: () => Promise.resolve({ statuses: 0 }),
    onSocket: () => {},
    notReadyReasons: () => ["no fluxd"],
  });
  const res = await handler(new Request(address, { method: "GET" }));
  assert.equal(res.status, 405, "the route exists and takes POSTs");
  await res.body?.cancel();
});

Deno.test("deploy/flux2-webhook: the Deployment runs with flags, env vars, probes and volumes the daemon accepts", async () => {
  const deployment = find("Deployment");
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c: { name: string }) => c.name === "flux-status");
  for (const e of container.env) assert.ok(KNOWN_ENV.has(e.name), `unknown env var ${e.name}`);
  const config = containerConfig(pod, find);
  const mounts = container.volumeMounts as { name: string; mountPath: string }[];
  assert.equal(config.flux2HmacKey, find("Secret", "flux-status-webhook").stringData.token);
  assert.ok(config.githubToken);
  const port = Number(config.listen.split(":").at(-1));
  const service = find("Service");
  const named = container.ports.find((p: { name: string }) =>
    p.name === service.spec.ports[0].targetPort
  );
  assert.equal(named.containerPort, port);
  const handler = createHandler({
    maxEventBytes: 1,
    onEvent: () => Promise.resolve({ statuses: 0 }),
    onSocket: () => {},
    notReadyReasons: () => ["fluxd is not connected"],
  });
  for (const probe of [container.livenessProbe, container.readinessProbe]) {
    assert.equal(probe.httpGet.port, port);
    const res = await handler(new Request(`http://pod:${port}${probe.httpGet.path}`));
    assert.equal(res.status, 200, `${probe.httpGet.path} answers 200 without fluxd`);
    await res.body?.cancel();
  }
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.runAsNonRoot, true);
  const storeDir = config.store.slice(0, config.store.lastIndexOf("/"));
  const data = mounts.find((m) => m.mountPath === storeDir);
  assert.ok(data, "the KV store needs a volume");
  const volume = pod.volumes.find((v: { name: string }) => v.name === data.name);
  assert.equal(volume.persistentVolumeClaim.claimName, find("PersistentVolumeClaim").metadata.name);
  assert.equal(deployment.spec.replicas, 1);
  assert.equal(deployment.spec.strategy.type, "Recreate", "one writer of the store at a time");
});
