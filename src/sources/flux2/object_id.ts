/**
 * The object part of Flux v2 status names, apart from the event schema so that `status` (which
 * takes `--object`) loads no schema library.
 *
 * @module
 */

/** Longest object part of a status name: the whole name then stays within 255 characters. */
const MAX_OBJECT_CHARS = 200;

/**
 * The object's part of its status names, `kind/namespace/name` with a lower-case kind. Kubernetes
 * names may be 253 characters, more than GitLab's 255-character job names leave room for, so an
 * object part over 200 characters keeps its start and ends in `~` and a hash of the whole.
 *
 * @example
 * ```ts
 * objectId("Kustomization", "flux-system", "apps"); // "kustomization/flux-system/apps"
 * ```
 */
export function objectId(kind: string, namespace: string, name: string): string {
  const full = `${kind.toLowerCase()}/${namespace}/${name}`;
  if (full.length <= MAX_OBJECT_CHARS) return full;
  let hash = 0x811c9dc5; // FNV-1a, 32 bits: stable across runs and releases
  for (const byte of new TextEncoder().encode(full)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return `${full.slice(0, MAX_OBJECT_CHARS - 9)}~${hash.toString(16).padStart(8, "0")}`;
}
