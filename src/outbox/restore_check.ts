/**
 * A store from the past: entries an earlier run queued (read from the store at start, after a
 * restart, a takeover by this replica, or from a store restored from an older backup) are checked
 * against the provider before their first send, one read of the commit's statuses per commit. An
 * entry is not sent when the provider already has a status of its name written more than
 * {@linkcode PROVIDER_CLOCK_SKEW_MS} after the entry was queued (newer than the entry), or one
 * saying exactly what the entry says (delivered by another replica, or just before a crash). A
 * check that fails is made again on the entry's next attempt.
 *
 * @module
 */
import type { ReadStatus } from "../notifiers/notifier.ts";

/**
 * How far the provider's clock may be ahead of ours: an entry loaded at start is skipped only
 * for a provider status written this much later than the entry was queued.
 */
export const PROVIDER_CLOCK_SKEW_MS = 60_000;

/** An entry to check, as the outbox knows it. */
export interface Unchecked {
  sha: string;
  /** `action` or `object/action`. */
  subject: string;
  /** The status name at the provider. */
  name: string;
  /** When it was queued, epoch ms. */
  enqueuedAt: number;
  /** What it would set: a provider status saying exactly this needs no second write. */
  status?: { state: string; description: string };
  /** The store's version of the entry. */
  versionstamp: string;
}

/** The entries of earlier runs not yet checked, and the provider reads they share. */
export class RestoreCheck {
  #readStatuses: (sha: string, signal: AbortSignal) => Promise<ReadStatus[]>;
  /** sha → subject → versionstamp of the entry as read at start (or after a failed attempt). */
  #unverified = new Map<string, Map<string, string>>();
  /** The provider's statuses of a commit with unverified entries, read once per commit. */
  #atProvider = new Map<string, Promise<ReadStatus[]>>();

  /** @param readStatuses reads the provider's statuses of a commit */
  constructor(readStatuses: (sha: string, signal: AbortSignal) => Promise<ReadStatus[]>) {
    this.#readStatuses = readStatuses;
  }

  /** Notes an entry an earlier run queued, as read from the store at start. */
  add(sha: string, subject: string, versionstamp: string): void {
    const subjects = this.#unverified.get(sha) ?? new Map<string, string>();
    this.#unverified.set(sha, subjects.set(subject, versionstamp));
  }

  /** An entry whose attempt failed was written again: its check follows it to the new version. */
  rewritten(sha: string, subject: string, from: string, to: string): void {
    const subjects = this.#unverified.get(sha);
    if (subjects?.get(subject) === from) subjects.set(subject, to);
  }

  /**
   * The provider's status of the entry's name when it was written after the entry was queued
   * (beyond the clock skew allowed); undefined when there is none, or the entry needs no check
   * (queued by this run, changed since start, or already checked). Marks the entry checked.
   */
  async newerAtProvider(e: Unchecked, signal: AbortSignal): Promise<ReadStatus | undefined> {
    const subjects = this.#unverified.get(e.sha);
    if (!subjects?.has(e.subject)) return undefined;
    if (subjects.get(e.subject) !== e.versionstamp) {
      this.#settle(e.sha, e.subject); // changed by an event since start: nothing to check
      return undefined;
    }
    let read = this.#atProvider.get(e.sha);
    if (!read) {
      read = this.#readStatuses(e.sha, signal);
      this.#atProvider.set(e.sha, read);
      read.catch(() => this.#atProvider.delete(e.sha));
    }
    const there = (await read).find((s) => s.name === e.name);
    this.#settle(e.sha, e.subject);
    const writtenAt = there?.updatedAt ? Date.parse(there.updatedAt) : NaN;
    // The same state and text is there already (another replica, or this one before a crash,
    // delivered it): sending it again would only repeat it.
    const same = there !== undefined && e.status !== undefined &&
      there.state === e.status.state && there.description === e.status.description;
    return same || writtenAt > e.enqueuedAt + PROVIDER_CLOCK_SKEW_MS ? there : undefined;
  }

  #settle(sha: string, subject: string): void {
    const subjects = this.#unverified.get(sha);
    subjects?.delete(subject);
    if (subjects?.size === 0) {
      this.#unverified.delete(sha);
      this.#atProvider.delete(sha);
    }
  }
}
