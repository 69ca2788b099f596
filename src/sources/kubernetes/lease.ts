/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics
 * (docs/kubernetes-api.md, "Leader election"): every candidate tries, each retry period, to
 * create the Lease (absent) or to take it over (its holder empty, or not renewed for a lease
 * duration as judged by *this* candidate's clock since it last saw the Lease change, never by the
 * Lease's own timestamps); the holder renews it with the resourceVersion it last wrote, and a race
 * is a 409 that loses. A leader that cannot renew within the renew deadline steps down. On a
 * graceful stop the leader releases the Lease (an empty holder, 1 s), so another takes over at once.
 *
 * @module
 */
import type { Clock } from "../../runtime/clock.ts";
import { KubeError, type KubeObject, type Resource } from "./api.ts";

/** The Lease resource. */
export const LEASES: Resource = {
  group: "coordination.k8s.io",
  version: "v1",
  plural: "leases",
  kind: "Lease",
};

/** The calls an elector makes (a {@linkcode KubeApi}, or a double). */
export interface LeaseApi {
  get(resource: Resource, namespace: string, name: string): Promise<KubeObject | undefined>;
  create(resource: Resource, namespace: string, object: KubeObject): Promise<KubeObject>;
  replace(resource: Resource, namespace: string, object: KubeObject): Promise<KubeObject>;
}

/** client-go's timing for a lease duration: 15 s → renew deadline 10 s, retry period 2 s. */
export function leaseTiming(leaseDurationMs: number): {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
} {
  return {
    leaseDurationMs,
    renewDeadlineMs: Math.round(leaseDurationMs * 2 / 3),
    retryPeriodMs: Math.round(leaseDurationMs * 2 / 15),
  };
}

/** Options of {@linkcode LeaderElector}. */
export interface LeaderElectorOptions {
  api: LeaseApi;
  /** The Lease's namespace and name. */
  namespace: string;
  name: string;
  /** This candidate's identity, unique among candidates (client-go: hostname + a UUID). */
  identity: string;
  /** How long a Lease not renewed is still held, in ms. @default 15_000 */
  leaseDurationMs?: number;
  clock: Clock;
  /** Called when this candidate starts or stops leading. */
  onChange?(leading: boolean): void;
  /** Called when a try failed (a refusal, an unreachable apiserver). */
  onError?(err: KubeError): void;
  /** Random numbers in [0, 1), for the jitter of tries while following. @default Math.random */
  random?: () => number;
}

/** The Lease's spec as written. */
interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** Takes part in one leader election. Call {@linkcode LeaderElector.run} once. */
export class LeaderElector {
  #options: LeaderElectorOptions;
  #timing: ReturnType<typeof leaseTiming>;
  #leading = false;
  /** The Lease as last seen (its resourceVersion guards our next write). */
  #lease: KubeObject | undefined;
  /** When the Lease was last seen to change, by our clock. */
  #observedAt = 0;
  #observedSpec = "";
  /** When this leader last renewed, by our clock. */
  #renewedAt = 0;
  #problem: KubeError | undefined;

  /** @param options the API, the Lease, this candidate and its clock */
  constructor(options: LeaderElectorOptions) {
    this.#options = options;
    this.#timing = leaseTiming(options.leaseDurationMs ?? 15_000);
  }

  /** Whether this candidate leads now. */
  get isLeader(): boolean {
    return this.#leading;
  }

  /** The holder as last seen, if any. */
  get holder(): string | undefined {
    const spec = this.#lease?.spec as LeaseSpec | undefined;
    return spec?.holderIdentity || undefined;
  }

  /** The last failed try, until one succeeds. */
  get problem(): KubeError | undefined {
    return this.#problem;
  }

  /** Tries and renews until `signal` aborts, then releases the Lease if it holds it. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, random = Math.random } = this.#options;
    const { retryPeriodMs, renewDeadlineMs } = this.#timing;
    while (!signal.aborted) {
      await this.tryAcquireOrRenew();
      if (this.#leading && clock.now() - this.#renewedAt > renewDeadlineMs) this.#lead(false);
      // While following, tries are jittered (client-go's factor 1.2) so candidates spread out.
      const wait = this.#leading ? retryPeriodMs : retryPeriodMs * (1 + 1.2 * random());
      await clock.sleep(wait, signal).catch(() => {});
    }
    await this.release();
  }

  /** One round: create, take over or renew the Lease; returns whether this candidate leads. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity, clock } = this.#options;
    const now = clock.now();
    try {
      const current = await api.get(LEASES, namespace, name);
      if (!current) {
        this.#lease = await api.create(LEASES, namespace, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: this.#spec({}, now, true),
        });
        this.#seen(this.#lease, now);
        return this.#acquired(now);
      }
      this.#seen(current, now);
      const spec = current.spec as LeaseSpec;
      const held = spec.holderIdentity && spec.holderIdentity !== identity;
      const expiresAt = this.#observedAt + (spec.leaseDurationSeconds ?? 0) * 1000;
      if (held && expiresAt > now) {
        if (this.#leading) this.#lead(false);
        this.#problem = undefined;
        return false;
      }
      this.#lease = await api.replace(LEASES, namespace, {
        ...current,
        spec: this.#spec(spec, now),
      });
      this.#seen(this.#lease, now);
      return this.#acquired(now);
    } catch (err) {
      if (!(err instanceof KubeError)) throw err;
      // A 409 is a lost race; anything else, a failed try. Either way this round is lost.
      if (err.status !== 409) {
        this.#problem = err;
        this.#options.onError?.(err);
      }
      return false;
    }
  }

  /** Gives the Lease up, when held: an empty holder for 1 s, as client-go's ReleaseOnCancel. */
  async release(): Promise<void> {
    if (!this.#leading || !this.#lease) return;
    const { api, namespace, clock } = this.#options;
    const now = new Date(clock.now()).toISOString().replace(/(\.\d{3})Z$/, "$1000Z");
    const spec = this.#lease.spec as LeaseSpec;
    this.#lead(false);
    try {
      await api.replace(LEASES, namespace, {
        ...this.#lease,
        spec: {
          ...spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
        },
      });
    } catch {
      // Not released: the others take over once it expires.
    }
  }

  #spec(previous: LeaseSpec, now: number, creating = false): LeaseSpec {
    const { identity } = this.#options;
    const time = new Date(now).toISOString().replace(/(\.\d{3})Z$/, "$1000Z"); // MicroTime
    const renewing = previous.holderIdentity === identity;
    return {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#timing.leaseDurationMs / 1000),
      acquireTime: renewing && previous.acquireTime ? previous.acquireTime : time,
      renewTime: time,
      // A new holder counts a transition; a renewal or the first holder does not.
      leaseTransitions: creating ? 0 : (previous.leaseTransitions ?? 0) + (renewing ? 0 : 1),
    };
  }

  /** Notes the Lease as read or written; its change restarts the expiry clock. */
  #seen(lease: KubeObject, now: number): void {
    this.#lease = lease;
    const spec = JSON.stringify(lease.spec ?? {});
    if (spec !== this.#observedSpec) {
      this.#observedSpec = spec;
      this.#observedAt = now;
    }
  }

  #acquired(now: number): boolean {
    this.#renewedAt = now;
    this.#problem = undefined;
    if (!this.#leading) this.#lead(true);
    return true;
  }

  #lead(leading: boolean): void {
    if (this.#leading === leading) return;
    this.#leading = leading;
    this.#options.onChange?.(leading);
  }
}
