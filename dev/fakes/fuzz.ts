/**
 * Input generators for fuzzing the routes: a seeded PRNG (so a failure replays from its seed) and
 * a structural mutator of JSON values (fields dropped, retyped, odd values).
 *
 * @module
 */

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES = [null, 0, -1, 1.5, "", "x", true, [], {}, [null], { ID: 1 }, "\u0000", 1e308];

/** `value` with fields dropped or replaced by odd values, recursively. */
export function mutate(value: unknown, random: () => number, depth = 0): unknown {
  if (random() < 0.15) return ODD_VALUES[Math.floor(random() * ODD_VALUES.length)];
  if (Array.isArray(value)) {
    const out = value.map((v) => mutate(v, random, depth + 1));
    if (random() < 0.2) out.splice(Math.floor(random() * (out.length + 1)), 1);
    return out;
  }
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (random() < 0.1) continue;
      out[k] = mutate(v, random, depth + 1);
    }
    return out;
  }
  return value;
}

/** A body from `value`: mutated, sometimes truncated, sometimes with a byte made invalid UTF-8. */
export function fuzzedBody(value: unknown, random: () => number): Uint8Array<ArrayBuffer> {
  let text = JSON.stringify(mutate(value, random));
  if (random() < 0.1) text = text.slice(0, Math.floor(random() * text.length));
  if (random() < 0.05) text = "[".repeat(5000) + "]".repeat(5000); // deep nesting
  const bytes = new TextEncoder().encode(text);
  if (random() < 0.05 && bytes.length > 0) bytes[Math.floor(random() * bytes.length)] = 0xff;
  if (random() < 0.03) return crypto.getRandomValues(new Uint8Array(Math.floor(random() * 512)));
  return bytes;
}
