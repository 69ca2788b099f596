/**
 * What a manifest's daemon container runs: its flags, env vars and the files its Secrets mount,
 * resolved through the real option parser and config, as the pod would.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseFlags } from "../../src/cli/args.ts";
import { commandFlags, type DaemonConfig, resolveConfig } from "../../src/config/config.ts";

/** A YAML document of a manifest: untyped, the assertions check its shape. */
export type Doc =
  & { kind: string; metadata: { name: string; namespace?: string } }
  // deno-lint-ignore no-explicit-any -- as above
  & Record<string, any>;

/**
 * The config of a pod's `flux-status` container; `find` looks up the manifest's Secrets.
 *
 * @throws {AssertionError} when the container reads a file no Secret mounts
 */
export function containerConfig(
  // deno-lint-ignore no-explicit-any -- a pod spec from YAML
  pod: any,
  find: (kind: string, name?: string) => Doc,
): DaemonConfig {
  const container = pod.containers.find((c: { name: string }) => c.name === "flux-status");
  const [command, ...args] = container.args as string[];
  assert.equal(command, "daemon");
  const env = Object.fromEntries(
    (container.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]),
  );
  const files: Record<string, string> = {};
  for (const m of container.volumeMounts as { name: string; mountPath: string }[]) {
    const volume = pod.volumes.find((v: { name: string }) => v.name === m.name);
    if (!volume?.secret) continue; // the store: a claim, not a Secret
    const secret = find("Secret", volume.secret.secretName);
    for (const [key, value] of Object.entries(secret.stringData)) {
      files[`${m.mountPath}/${key}`] = value as string;
    }
  }
  return resolveConfig("daemon", {
    flags: parseFlags(args, commandFlags("daemon"), "daemon"),
    env,
    readTextFile: (path) => {
      assert.ok(path in files, `${path} is not mounted from a Secret`);
      return files[path]!;
    },
  });
}
