/**
 * Flux objects for the cluster-state tests, made from the fixtures of dev/fixtures/kubernetes by
 * putting another commit (or name) where the fixture has its own, and a kubeconfig for the fake
 * apiserver.
 *
 * @module
 */
import { kubeFixture } from "./_helpers.ts";
import type { KubeApiserver, Obj } from "../dev/fakes/kube_apiserver.ts";

/** The fixtures' good commit (C1) and bad commit (C2). */
export const C1 = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
export const C2 = "9b1e4d7a2c5f8e0b3d6a9c2f5e8b1d4a7c0f3e62";

/** The repository the fixtures' GitRepository names. */
export const FLEET_URL = "ssh://git@github.com/acme/fleet";

/** A fixture with `C1` (and `C2`) replaced by other commits, renamed when `name` is given. */
export function flux(
  fixture: string,
  { c1 = C1, c2 = C2, name, url }: { c1?: string; c2?: string; name?: string; url?: string } = {},
): Obj {
  const text = JSON.stringify(kubeFixture(fixture))
    .replaceAll(C1, c1).replaceAll(C1.slice(0, 12), c1.slice(0, 12))
    .replaceAll(C2, c2).replaceAll(C2.slice(0, 12), c2.slice(0, 12));
  const object = JSON.parse(text) as Obj;
  if (name) object.metadata.name = name;
  if (url) object.spec.url = url;
  delete object.metadata.resourceVersion;
  return object;
}

/** A GitRepository of the fleet repository whose artifact is at `sha`. */
export function gitRepository(sha: string, url = FLEET_URL): Obj {
  return flux("gitrepository-flux-system-ready", { c1: sha, url });
}

/**
 * Writes a kubeconfig for the fake apiserver into `dir`, its CA inline and its token in a file
 * beside it (`kube-token`); YAML as kubectl writes it, or JSON (which needs no YAML parser, as in
 * a pod).
 *
 * @returns the kubeconfig's path and the token file's
 */
export async function writeKubeconfig(
  api: KubeApiserver,
  dir: string,
  { json = false } = {},
): Promise<{ kubeconfig: string; tokenFile: string }> {
  const tokenFile = `${dir}/kube-token`, kubeconfig = `${dir}/kubeconfig`;
  await Deno.writeTextFile(tokenFile, api.token);
  await Deno.writeTextFile(kubeconfig, kubeconfigText(api, tokenFile, json));
  return { kubeconfig, tokenFile };
}

function kubeconfigText(api: KubeApiserver, tokenFile: string, json: boolean): string {
  if (json) {
    return JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "test",
      clusters: [{
        name: "fake",
        cluster: { server: api.url, "certificate-authority-data": btoa(api.ca) },
      }],
      users: [{ name: "flux-status", user: { tokenFile } }],
      contexts: [{
        name: "test",
        context: { cluster: "fake", user: "flux-status", namespace: "flux-system" },
      }],
    });
  }
  return [
    "apiVersion: v1",
    "kind: Config",
    "current-context: test",
    "clusters:",
    "- name: fake",
    "  cluster:",
    `    server: ${api.url}`,
    `    certificate-authority-data: ${btoa(api.ca)}`,
    "users:",
    "- name: flux-status",
    "  user:",
    `    tokenFile: ${tokenFile}`,
    "contexts:",
    "- name: test",
    "  context: {cluster: fake, user: flux-status, namespace: flux-system}",
    "",
  ].join("\n");
}
