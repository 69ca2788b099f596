/**
 * notification-controller's `generic-hmac` signature (docs/flux2-events.md §2): `X-Signature:
 * <algo>=<lowercase hex HMAC(key, raw body)>`, sha256 today; sha224/384/512 are accepted as nc's
 * own verifier does. The key is the Secret's `token` bytes exactly as nc uses them (since v1.7.0
 * not trimmed). Checked with `crypto.subtle.verify`, which compares in constant time (the server's
 * token check has its own compare, over digests).
 *
 * @module
 */

const ALGORITHMS: Record<string, { hash: string; hexLength: number }> = {
  sha224: { hash: "SHA-224", hexLength: 56 },
  sha256: { hash: "SHA-256", hexLength: 64 },
  sha384: { hash: "SHA-384", hexLength: 96 },
  sha512: { hash: "SHA-512", hexLength: 128 },
};

/**
 * Whether `header` is a valid signature of `body` under `key`.
 *
 * @param key the HMAC key bytes
 * @param body the raw request body
 * @param header the `X-Signature` header, if any
 * @example
 * ```ts
 * await isValidSignature(new TextEncoder().encode("k"), body, request.headers.get("x-signature"));
 * ```
 */
export async function isValidSignature(
  key: Uint8Array,
  body: Uint8Array,
  header: string | null,
): Promise<boolean> {
  const m = /^(sha224|sha256|sha384|sha512)=([0-9a-fA-F]+)$/.exec(header?.trim() ?? "");
  if (!m) return false;
  const algo = ALGORITHMS[m[1]!]!;
  if (m[2]!.length !== algo.hexLength) return false;
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    key as BufferSource,
    { name: "HMAC", hash: algo.hash },
    false,
    ["verify"],
  );
  const hex = m[2]!;
  const given = Uint8Array.from(
    { length: hex.length / 2 },
    (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16),
  );
  return await crypto.subtle.verify("HMAC", cryptoKey, given, body as BufferSource);
}
