/**
 * Small helpers every kind of test uses: a temp directory that removes itself, and fluxd's
 * fixtures (dev/fixtures/flux) as objects.
 *
 * @module
 */

/** A fresh temp directory removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "flux-status-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Reads a fixture from dev/fixtures/flux as an object. */
export async function fixture(name: string): Promise<Record<string, unknown>> {
  const url = new URL(`../dev/fixtures/flux/${name}`, import.meta.url);
  return JSON.parse(await Deno.readTextFile(url));
}

/** Reads a Flux object from dev/fixtures/kubernetes (a fresh copy each call). */
export function kubeFixture(name: string): {
  kind: string;
  metadata: { name: string; namespace: string; generation: number; resourceVersion: string };
  // deno-lint-ignore no-explicit-any -- fixtures are edited freely by tests
  spec: any;
  // deno-lint-ignore no-explicit-any -- fixtures are edited freely by tests
  status: any;
} {
  const url = new URL(`../dev/fixtures/kubernetes/${name}.json`, import.meta.url);
  return JSON.parse(Deno.readTextFileSync(url));
}
