/**
 * The deploy examples use only flags, env vars, ports and probe paths the daemon really accepts:
 * each example's flux-status container is resolved through the real config code and its probe
 * is asked of the real handler.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseFlags } from "../../src/cli/args.ts";
import { commandFlags, envName, OPTION_META, resolveConfig } from "../../src/config/config.ts";
import { createHandler } from "../../src/server/server.ts";

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { containerPort: number }[];
  livenessProbe?: { httpGet: { path: string; port: number } };
  readinessProbe?: { httpGet: { path: string; port: number } };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { mountPath: string }[];
}

async function load(name: string): Promise<{ fluxdArgs: string[]; fluxStatus: Container }> {
  const doc = parse(await Deno.readTextFile(new URL(`../../deploy/${name}`, import.meta.url)));
  if (doc.kind === "Deployment") {
    const containers = doc.spec.template.spec.containers as Container[];
    return {
      fluxdArgs: containers.find((c) => c.name === "flux")!.args!,
      fluxStatus: containers.find((c) => c.name === "flux-status")!,
    };
  }
  return {
    fluxdArgs: doc.additionalArgs,
    fluxStatus: (doc.extraContainers as Container[]).find((c) => c.name === "flux-status")!,
  };
}

const KNOWN_ENV = new Set(
  Object.entries(OPTION_META).flatMap(([key, meta]) => [
    envName(key),
    ...(meta.env ?? []),
    ...(meta.secret ? [`${envName(key)}_FILE`] : []),
  ]),
);

for (const file of ["helm-values.yaml", "fluxd-patch.yaml"]) {
  Deno.test(`deploy/${file} uses flags, env vars, port and probe the daemon accepts`, async () => {
    const { fluxdArgs, fluxStatus } = await load(file);
    const [command, ...args] = fluxStatus.args!;
    assert.equal(command, "daemon");
    for (const e of fluxStatus.env ?? []) {
      assert.ok(KNOWN_ENV.has(e.name), `unknown env var ${e.name}`);
    }

    // The real parser takes the flags (unknown ones throw), the real config resolves them.
    const flags = parseFlags(args, commandFlags("daemon"), "daemon");
    const env = Object.fromEntries(
      (fluxStatus.env ?? []).map((e) => [e.name, e.value ?? "from-secret"]),
    );
    const config = resolveConfig("daemon", {
      flags,
      env,
      readTextFile: () => "token-from-file",
    });
    assert.ok(config.connectToken, "binding beyond loopback needs --connect-token");

    const port = Number(config.listen.split(":").at(-1));
    assert.deepEqual(fluxStatus.ports?.map((p) => p.containerPort), [port]);
    assert.ok(
      fluxdArgs.includes(`--connect=ws://localhost:${port}`),
      "fluxd must dial the sidecar",
    );
    assert.ok(
      fluxdArgs.includes("--token=$(FLUX_STATUS_CONNECT_TOKEN)"),
      "fluxd must send the token",
    );
    for (const probe of [fluxStatus.livenessProbe, fluxStatus.readinessProbe]) {
      if (!probe) continue;
      assert.equal(probe.httpGet.port, port);
      const handler = createHandler({
        maxEventBytes: 1,
        onEvent: () => Promise.resolve({ statuses: 0 }),
        onSocket: () => {},
        notReadyReasons: () => [],
      });
      const res = await handler(new Request(`http://pod:${port}${probe.httpGet.path}`));
      assert.equal(res.status, 200, probe.httpGet.path);
      await res.body?.cancel();
    }
    assert.equal(fluxStatus.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(fluxStatus.securityContext?.runAsNonRoot, true);
    const storeDir = config.store.slice(0, config.store.lastIndexOf("/"));
    assert.ok(
      fluxStatus.volumeMounts?.some((m) => m.mountPath === storeDir),
      "the KV store needs a volume",
    );
  });
}
