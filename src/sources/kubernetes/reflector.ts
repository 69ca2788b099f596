/**
 * A reflector keeps an in-memory copy of every object of one resource (in one namespace, or all)
 * as client-go's does (docs/kubernetes-api.md, "Reading objects"): list, then watch from the
 * list's resourceVersion with bookmarks; when the server ends a watch, watch again from the last
 * resourceVersion seen; on 410 Expired, list again (the copy is replaced, so what changed in the
 * gap is seen); on any other failure, back off (0.8 s doubling to 30 s, with jitter) and try
 * again, for ever. Its `problem` says what is wrong meanwhile, for `/readyz`.
 *
 * @module
 */
import type { Clock } from "../../runtime/clock.ts";
import { KubeError, type KubeObject, type Resource, resourceName, type WatchEvent } from "./api.ts";

/** The calls a reflector makes (a {@linkcode KubeApi}, or a double). */
export interface ListWatch {
  list(
    resource: Resource,
    namespace: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  watch(
    resource: Resource,
    namespace: string | undefined,
    resourceVersion: string,
    options: { timeoutSeconds: number; signal?: AbortSignal },
  ): AsyncIterable<WatchEvent>;
}

/** Options of {@linkcode Reflector}. */
export interface ReflectorOptions {
  api: ListWatch;
  resource: Resource;
  /** One namespace; all when absent. */
  namespace?: string | undefined;
  clock: Clock;
  /** Called after the copy changed (a list, or a watch event other than a bookmark). */
  onChange(resource: Resource): void;
  /** Called on each failure, before the backoff. */
  onError?(err: KubeError): void;
  /** Trims each object as it arrives to what is read of it (the copy keeps only that). */
  transform?(object: KubeObject): KubeObject;
  /** Longest backoff between failures, in ms. @default 30_000 */
  maxBackoffMs?: number;
  /** Random numbers in [0, 1), for jitter and watch timeouts. @default Math.random */
  random?: () => number;
}

/** First backoff after a failure, in ms (client-go's). */
const FIRST_BACKOFF_MS = 800;

/** Keeps a copy of one resource's objects up to date. Call {@linkcode Reflector.run} once. */
export class Reflector {
  /** The objects, by `namespace/name`. */
  readonly objects: Map<string, KubeObject> = new Map();
  #options: ReflectorOptions;
  #problem: KubeError | undefined;
  #synced = false;

  /** @param options the API, the resource, and whom to tell of changes */
  constructor(options: ReflectorOptions) {
    this.#options = options;
  }

  /** What is wrong now (the last failure, until a list or watch succeeds again). */
  get problem(): KubeError | undefined {
    return this.#problem;
  }

  /** Whether a list has succeeded since start. */
  get synced(): boolean {
    return this.#synced;
  }

  /** The resource and namespace followed, for messages: `kustomizations.kustomize.toolkit.fluxcd.io in apps`. */
  get resourceLabel(): string {
    const { resource, namespace } = this.#options;
    return `${resourceName(resource)}${namespace ? ` in ${namespace}` : ""}`;
  }

  /**
   * Takes an object read apart from the watch (a GET after a hint) when it is newer than the
   * copy's. Resource versions are compared as the decimal numbers every apiserver gives; one
   * that is not a number is not taken.
   *
   * @returns whether the copy changed
   */
  offer(object: KubeObject): boolean {
    const { namespace } = this.#options;
    if (!this.#synced || (namespace && object.metadata.namespace !== namespace)) return false;
    const key = keyOf(object);
    const fresh = Number(object.metadata.resourceVersion);
    const held = Number(this.objects.get(key)?.metadata.resourceVersion ?? 0);
    if (!Number.isSafeInteger(fresh) || !(fresh > held)) return false;
    this.objects.set(key, this.#transform(object));
    return true;
  }

  /** Lists and watches until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { api, resource, namespace, clock, random = Math.random } = this.#options;
    const maxBackoffMs = this.#options.maxBackoffMs ?? 30_000;
    let resourceVersion = "";
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (resourceVersion === "") {
          resourceVersion = await this.#list(signal);
          this.#synced = true;
          this.#problem = undefined;
          failures = 0;
          this.#options.onChange(resource);
        }
        const started = clock.now();
        let events = 0;
        // client-go's 5–10 minutes: watches of many clients do not end together.
        const timeoutSeconds = 300 + Math.floor(random() * 300);
        const watching = new AbortController();
        const guard = new AbortController();
        // A connection that went quiet without closing (no bookmark for a minute past the
        // deadline) is given up.
        clock.sleep((timeoutSeconds + 60) * 1000, AbortSignal.any([signal, guard.signal]))
          .then(() => watching.abort(), () => {});
        try {
          const stream = api.watch(resource, namespace, resourceVersion, {
            timeoutSeconds,
            signal: AbortSignal.any([signal, watching.signal]),
          });
          for await (const event of stream) {
            events++;
            this.#problem = undefined;
            failures = 0;
            resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
            if (event.type === "BOOKMARK") continue;
            const key = keyOf(event.object);
            if (event.type === "DELETED") this.objects.delete(key);
            else if (!isOlder(event.object, this.objects.get(key))) {
              this.objects.set(key, this.#transform(event.object));
            }
            this.#options.onChange(resource);
          }
        } finally {
          guard.abort();
        }
        if (signal.aborted) return;
        if (events === 0 && clock.now() - started < 1_000 && !watching.signal.aborted) {
          throw new KubeError(`The watch of ${resourceName(resource)} ended at once`, {
            status: 0,
            reason: "WatchClosed",
            verb: "watch",
            resource: resourceName(resource),
          });
        }
      } catch (err) {
        if (signal.aborted) return;
        const error = err instanceof KubeError ? err : new KubeError(
          `Cannot follow ${resourceName(resource)}: ${err instanceof Error ? err.message : err}`,
          { status: 0, reason: "Unknown", verb: "watch", resource: resourceName(resource) },
        );
        if (error.expired && resourceVersion !== "") {
          // The version we watched from was compacted away: list again, at once.
          resourceVersion = "";
          continue;
        }
        this.#problem = error;
        this.#options.onError?.(error);
        failures++;
        const backoff = Math.min(maxBackoffMs, FIRST_BACKOFF_MS * 2 ** (failures - 1));
        const jittered = Math.min(maxBackoffMs, backoff * (1 + random() / 2));
        await clock.sleep(Math.max(error.retryAfterMs ?? 0, jittered), signal).catch(() => {});
      }
    }
  }

  /**
   * Lists every object, replaces the copy with them, and returns the list's resourceVersion. Its
   * own frame: the answer as received (every field of every object) is garbage once it returns,
   * where a local of `run`'s would stay alive while the watch that follows it waits.
   */
  async #list(signal: AbortSignal): Promise<string> {
    const { api, resource, namespace } = this.#options;
    const listed = await api.list(resource, namespace, signal);
    this.objects.clear();
    for (const item of listed.items) this.objects.set(keyOf(item), this.#transform(item));
    return listed.resourceVersion;
  }

  #transform(object: KubeObject): KubeObject {
    return this.#options.transform ? this.#options.transform(object) : object;
  }
}

/** Whether `object` is older than `held` (a copy a GET brought ahead of the watch). */
function isOlder(object: KubeObject, held: KubeObject | undefined): boolean {
  const a = Number(object.metadata.resourceVersion), b = Number(held?.metadata.resourceVersion);
  return Number.isSafeInteger(a) && Number.isSafeInteger(b) && a < b;
}

function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}
