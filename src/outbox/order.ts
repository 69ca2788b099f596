/**
 * The outbox's delivery order, in memory: which queued statuses are ready (by priority) and which
 * wait out a backoff (by due time). It is derived state: the outbox rebuilds it from the store on
 * start, and every commit updates it after it lands, so the store holds one row per status and
 * an event costs one KV row per status it sets.
 *
 * Each item carries the versionstamp of the commit that wrote it, so updates applied out of order
 * (a start-up read racing an event's commit) keep the newest.
 *
 * @module
 */

/** Priority, lowest first: head-ness, newness, finality. */
export type Rank = [number, number, number];

/** One queued status as the delivery loop orders it. */
export interface Queued {
  /** `sha/subject`. */
  id: string;
  sha: string;
  subject: string;
  rank: Rank;
  /** Not before this time (ms); 0 when ready. */
  notBefore: number;
  enqueuedAt: number;
  /** Of the commit that stored it. */
  versionstamp: string;
}

const byRank = (a: Queued, b: Queued) =>
  a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.rank[2] - b.rank[2] ||
  (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byDue = (a: Queued, b: Queued) =>
  a.notBefore - b.notBefore || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Queued statuses: ready ones by rank, waiting ones by due time. */
export class OutboxIndex {
  #byId = new Map<string, Queued>();
  #ready: Queued[] = [];
  #waiting: Queued[] = [];

  /** How many statuses are queued. */
  get size(): number {
    return this.#byId.size;
  }

  /** When the oldest queued status was accepted (Infinity when none). */
  oldestEnqueuedAt(): number {
    let oldest = Infinity;
    for (const q of this.#byId.values()) oldest = Math.min(oldest, q.enqueuedAt);
    return oldest;
  }

  /** Holds `q`, replacing an older version of it; an older `q` than the one held is ignored. */
  put(q: Queued): void {
    const held = this.#byId.get(q.id);
    if (held) {
      if (held.versionstamp >= q.versionstamp) return;
      this.#unlist(held);
    }
    this.#byId.set(q.id, q);
    insert(q.notBefore > 0 ? this.#waiting : this.#ready, q, q.notBefore > 0 ? byDue : byRank);
  }

  /** Forgets `id` if what is held is no newer than `versionstamp` (the commit that removed it). */
  remove(id: string, versionstamp: string): void {
    const held = this.#byId.get(id);
    if (!held || held.versionstamp > versionstamp) return;
    this.#unlist(held);
    this.#byId.delete(id);
  }

  /** Moves the waiting statuses due at `now` to ready; returns when the next one is due. */
  promote(now: number): number {
    let due = 0;
    while (due < this.#waiting.length && this.#waiting[due]!.notBefore <= now) due++;
    for (const q of this.#waiting.splice(0, due)) {
      q.notBefore = 0;
      insert(this.#ready, q, byRank);
    }
    return this.#waiting[0]?.notBefore ?? Infinity;
  }

  /** Up to `limit` ready statuses, highest priority first, leaving out those `skip` names. */
  front(limit: number, skip: (id: string) => boolean): Queued[] {
    const out: Queued[] = [];
    for (const q of this.#ready) {
      if (out.length >= limit) break;
      if (!skip(q.id)) out.push(q);
    }
    return out;
  }

  #unlist(q: Queued): void {
    const list = q.notBefore > 0 ? this.#waiting : this.#ready;
    const i = search(list, q, q.notBefore > 0 ? byDue : byRank);
    if (list[i] === q) list.splice(i, 1);
  }
}

/** The first index whose item does not sort before `q`. */
function search(list: Queued[], q: Queued, cmp: (a: Queued, b: Queued) => number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(list[mid]!, q) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insert(list: Queued[], q: Queued, cmp: (a: Queued, b: Queued) => number): void {
  list.splice(search(list, q, cmp), 0, q);
}
