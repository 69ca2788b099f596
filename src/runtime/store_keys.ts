/**
 * The Deno KV store's key map: every key flux-status writes, built here and nowhere else, each
 * group used by the one module that owns it (ARCHITECTURE.md, "The store", says what each holds and
 * for how long). Tests build keys through these too, so a renamed key changes one file.
 *
 * | prefix | owner | holds | kept |
 * | --- | --- | --- | --- |
 * | `outbox, sha, subject` | src/outbox/outbox.ts | the newest wanted status of one commit's action (or object/action) | until delivered, dropped, or 7 days |
 * | `delivered, sha, subject` | src/outbox/outbox.ts | the last status delivered, for dedupe | 30 days |
 * | `schema, outbox` / `schema, watch` | outbox.ts / watcher.ts | the store layout's version, for migrations | always |
 * | `ready, …` / `wait, …` | outbox.ts (migration only) | index rows of an earlier build; removed by `migrate()` | removed |
 * | `pause, provider` | src/outbox/pause.ts | the provider pause: until when, why | until lifted |
 * | `watch, head` / `watchset, head, i` | src/intake/watcher.ts | a rollout watch and its chunks of workload ids | until judged |
 * | `judged, head` | src/intake/watcher.ts | a head's workload verdict, so a re-sent sync is not watched again | 7 days |
 * | `flux2, status, sha, object, action` | src/intake/flux2_intake.ts | the state applied to a Flux v2 object's status | 30 days |
 * | `flux2, object, object` | src/intake/flux2_intake.ts | the newest revision an object reported | 30 days |
 * | `flux2, deadline, due, sha, object, action` | src/intake/flux2_intake.ts | when a pending Flux v2 status turns failed | until due |
 * | `cluster, commit, sha` | src/intake/cluster_intake.ts | a commit's roll-up as last queued, and whether objects are still at it | 30 days |
 * | `cluster, member, sha, object` | src/intake/cluster_intake.ts | an object's verdict at a commit still open | until the commit closes, or 30 days |
 * | `health` | daemon.ts | the write probe of start-up and `/healthz` | overwritten |
 *
 * @module
 */

/** What a status is about on its commit: `action` or `object/action`. */
type Subject = string;

/** The outbox's keys. */
export const outboxKeys = {
  /** A queued status. */
  entry: (sha: string, subject: Subject): Deno.KvKey => ["outbox", sha, subject],
  /** Every queued status. */
  entries: ["outbox"] as Deno.KvKey,
  /** The last delivered status of a commit's subject. */
  delivered: (sha: string, subject: Subject): Deno.KvKey => ["delivered", sha, subject],
  /** The outbox layout's version. */
  schema: ["schema", "outbox"] as Deno.KvKey,
  /** Index rows an earlier build kept in the store (removed by the migration). */
  legacyReady: ["ready"] as Deno.KvKey,
  /** Index rows an earlier build kept in the store (removed by the migration). */
  legacyWait: ["wait"] as Deno.KvKey,
};

/** The provider pause's key. */
export const pauseKey = (provider: string): Deno.KvKey => ["pause", provider];

/** The rollout watcher's keys. */
export const watchKeys = {
  /** The watch of a sync head. */
  watch: (head: string): Deno.KvKey => ["watch", head],
  /** Every watch. */
  watches: ["watch"] as Deno.KvKey,
  /** One chunk of a watch's workload ids. */
  chunk: (head: string, i: number): Deno.KvKey => ["watchset", head, i],
  /** Every chunk of a watch. */
  chunks: (head: string): Deno.KvKey => ["watchset", head],
  /** A head's verdict. */
  judged: (head: string): Deno.KvKey => ["judged", head],
  /** The watch layout's version. */
  schema: ["schema", "watch"] as Deno.KvKey,
};

/** The Flux v2 intake's keys. */
export const flux2Keys = {
  /** The state applied to an object's status on a commit. */
  status: (sha: string, object: string, action: string): Deno.KvKey => [
    "flux2",
    "status",
    sha,
    object,
    action,
  ],
  /** The newest revision an object reported. */
  object: (object: string): Deno.KvKey => ["flux2", "object", object],
  /** When a pending status turns failed. */
  deadline: (due: number, sha: string, object: string, action: string): Deno.KvKey => [
    "flux2",
    "deadline",
    due,
    sha,
    object,
    action,
  ],
  /** Every deadline, soonest first. */
  deadlines: ["flux2", "deadline"] as Deno.KvKey,
};

/** The cluster-state intake's keys (`daemon --kubernetes`). */
export const clusterKeys = {
  /** A commit's roll-up record. */
  commit: (sha: string): Deno.KvKey => ["cluster", "commit", sha],
  /** Every commit's roll-up record. */
  commits: ["cluster", "commit"] as Deno.KvKey,
  /** An object's verdict at a commit. */
  member: (sha: string, object: string): Deno.KvKey => ["cluster", "member", sha, object],
  /** Every object's verdict at a commit. */
  members: (sha: string): Deno.KvKey => ["cluster", "member", sha],
};

/** The key the daemon's write probe writes. */
export const healthKey: Deno.KvKey = ["health"];
