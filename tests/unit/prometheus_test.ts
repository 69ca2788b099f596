import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "../../src/server/prometheus.ts";

Deno.test("the exposition format: help, type, escaped labels, cumulative buckets", async () => {
  const registry = new Registry();
  const events = registry.register(
    new Counter({
      name: "x_events_total",
      help: "Events\nby source",
      labelNames: ["source", "code"],
    }),
  );
  registry.register(new Counter({ name: "x_reconnects_total", help: "Reconnects" }));
  const latency = registry.register(
    new Histogram({ name: "x_seconds", help: "Latency", labelNames: ["p"], buckets: [1, 0.5] }),
  );
  registry.register(
    new Gauge({
      name: "x_depth",
      help: "Depth",
      labelNames: ["p"],
      collect: (set) => set(7, { p: "gh" }),
    }),
  );
  events.inc({ code: "200", source: 'a"b\\c\nd' });
  events.inc({ source: 'a"b\\c\nd', code: "200" }, 2);
  latency.observe({ p: "gh" }, 0.25);
  latency.observe({ p: "gh" }, 0.75);
  latency.observe({ p: "gh" }, 3);
  assert.equal(
    await registry.metrics(),
    [
      "# HELP x_events_total Events\\nby source",
      "# TYPE x_events_total counter",
      'x_events_total{source="a\\"b\\\\c\\nd",code="200"} 3',
      "# HELP x_reconnects_total Reconnects",
      "# TYPE x_reconnects_total counter",
      "x_reconnects_total 0",
      "# HELP x_seconds Latency",
      "# TYPE x_seconds histogram",
      'x_seconds_bucket{p="gh",le="0.5"} 1',
      'x_seconds_bucket{p="gh",le="1"} 2',
      'x_seconds_bucket{p="gh",le="+Inf"} 3',
      'x_seconds_sum{p="gh"} 4',
      'x_seconds_count{p="gh"} 3',
      "# HELP x_depth Depth",
      "# TYPE x_depth gauge",
      'x_depth{p="gh"} 7',
      "",
    ].join("\n"),
  );
});
