/**
 * Counters, gauges and histograms in the Prometheus text exposition format 0.0.4: the part of
 * `prom-client` the daemon used. Measured on Deno 2.9 (ARCHITECTURE.md, "Decisions"): importing prom-client alone
 * added 12.7 MB to the daemon's idle RSS (it is CommonJS and pulls in Node's cluster and
 * perf_hooks), a sixth of the whole; this module adds none of that.
 *
 * Labels are given in a fixed order per metric; every value is escaped as the format requires.
 *
 * @module
 */

type Labels<L extends string> = Partial<Record<L, string>>;

interface Metric {
  render(): Promise<string> | string;
}

/** The metrics one `/metrics` page shows, in registration order. */
export class Registry {
  #metrics: Metric[] = [];

  /** Adds a metric to the page. */
  register<M extends Metric>(metric: M): M {
    this.#metrics.push(metric);
    return metric;
  }

  /** The text exposition of every metric (gauges collect first). */
  async metrics(): Promise<string> {
    const parts = await Promise.all(this.#metrics.map((m) => m.render()));
    return parts.join("");
  }
}

/** What every metric is declared with. */
export interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

abstract class Labelled<L extends string> implements Metric {
  protected readonly name: string;
  readonly #help: string;
  readonly #labelNames: readonly L[];
  readonly #type: string;

  constructor(type: string, options: MetricOptions<L>) {
    this.#type = type;
    this.name = options.name;
    this.#help = options.help;
    this.#labelNames = options.labelNames ?? [];
  }

  /** `{a="x",b="y"}` in declared order, or "" with no labels. */
  protected key(labels: Labels<L> = {}, extra = ""): string {
    const parts = this.#labelNames.filter((n) => labels[n] !== undefined)
      .map((n) => `${n}="${escapeLabel(labels[n]!)}"`);
    if (extra) parts.push(extra);
    return parts.length > 0 ? `{${parts.join(",")}}` : "";
  }

  protected header(): string {
    return `# HELP ${this.name} ${this.#help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}\n` +
      `# TYPE ${this.name} ${this.#type}\n`;
  }

  abstract render(): Promise<string> | string;
}

/** A value that only goes up. */
export class Counter<L extends string = never> extends Labelled<L> {
  #values = new Map<string, number>();

  /** Declares the counter (one without labels starts at 0, so a rate works from the start). */
  constructor(options: MetricOptions<L>) {
    super("counter", options);
    if (!options.labelNames?.length) this.#values.set("", 0);
  }

  /** Adds `by` (1) to the series of `labels`. */
  inc(labels?: Labels<L>, by = 1): void {
    const key = this.key(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  render(): string {
    let out = this.header();
    for (const [key, value] of this.#values) out += `${this.name}${key} ${formatNumber(value)}\n`;
    return out;
  }
}

/** A value read when scraped, from `collect`. */
export class Gauge<L extends string = never> extends Labelled<L> {
  #collect: (set: (value: number, labels?: Labels<L>) => void) => Promise<void> | void;

  /** Declares the gauge and how to read it. */
  constructor(
    options: MetricOptions<L> & {
      collect: (set: (value: number, labels?: Labels<L>) => void) => Promise<void> | void;
    },
  ) {
    super("gauge", options);
    this.#collect = options.collect;
  }

  async render(): Promise<string> {
    let out = this.header();
    await this.#collect((value, labels) => {
      out += `${this.name}${this.key(labels)} ${formatNumber(value)}\n`;
    });
    return out;
  }
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram<L extends string = never> extends Labelled<L> {
  #buckets: number[];
  #series = new Map<string, { labels: Labels<L>; counts: number[]; sum: number; count: number }>();

  /** Declares the histogram with its upper bounds (`+Inf` is added). */
  constructor(options: MetricOptions<L> & { buckets: number[] }) {
    super("histogram", options);
    this.#buckets = [...options.buckets].sort((a, b) => a - b);
  }

  /** Counts one observation in the series of `labels`. */
  observe(labels: Labels<L>, value: number): void {
    const key = this.key(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { labels, counts: this.#buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    for (let i = 0; i < this.#buckets.length; i++) if (value <= this.#buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string {
    let out = this.header();
    for (const [key, s] of this.#series) {
      this.#buckets.forEach((le, i) => {
        out += `${this.name}_bucket${this.key(s.labels, `le="${formatNumber(le)}"`)} ${
          s.counts[i]
        }\n`;
      });
      out += `${this.name}_bucket${this.key(s.labels, 'le="+Inf"')} ${s.count}\n`;
      out += `${this.name}_sum${key} ${formatNumber(s.sum)}\n`;
      out += `${this.name}_count${key} ${s.count}\n`;
    }
    return out;
  }
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatNumber(n: number): string {
  return Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n);
}
