/**
 * Flux v2's notification-controller as flux-status sees it (docs/flux2-events.md §2): it POSTs an
 * event's exact bytes with `Content-Type: application/json`, `Gotk-Component` and, for a
 * `generic-hmac` Provider, `X-Signature: sha256=<hex HMAC of the body>`. The signature is computed
 * here, never with the product's code.
 *
 * @module
 */

/** A fixture's exact bytes, optionally re-timed or moved to another revision. */
export function flux2Fixture(
  name: string,
  patch: { timestamp?: string; revision?: string } = {},
): Uint8Array<ArrayBuffer> {
  const bytes = Deno.readFileSync(
    new URL(`../fixtures/flux2/${name}`, import.meta.url),
  );
  if (!patch.timestamp && !patch.revision) return bytes;
  const event = JSON.parse(new TextDecoder().decode(bytes));
  if (patch.timestamp) event.timestamp = patch.timestamp;
  if (patch.revision) event.metadata = { ...event.metadata, revision: patch.revision };
  return new TextEncoder().encode(JSON.stringify(event));
}

/** `sha256=<hex>`: the HMAC-SHA256 of `body` under `key`. */
export async function signature(body: Uint8Array<ArrayBuffer>, key: string): Promise<string> {
  const k = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, body));
  return "sha256=" + [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * POSTs an event the way notification-controller does; signed when `key` is given.
 *
 * @returns the HTTP status of the answer
 */
export async function postFlux2Event(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  key?: string,
): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "gotk-component": JSON.parse(new TextDecoder().decode(body)).reportingController ?? "",
      ...(key ? { "x-signature": await signature(body, key) } : {}),
    },
  });
  await res.body?.cancel();
  return res.status;
}
