import assert from "node:assert/strict";
import { isWorkloadId, judgeRollout, type WorkloadStatus } from "../../src/sources/flux/rollout.ts";
import { fixture } from "../_helpers.ts";

async function listed(name: string): Promise<WorkloadStatus[]> {
  const reply = await fixture(name);
  return ((reply.result as { Result: WorkloadStatus[] | null }).Result) ?? [];
}

Deno.test("judgeRollout() decides from fluxd's status and rollout fields", async (t) => {
  const ready = await listed("rpc-list-services-reply-ready.json");
  const rolling = await listed("rpc-list-services-reply-rolling.json");
  const error = await listed("rpc-list-services-reply-error.json");
  const http = JSON.parse(
    await Deno.readTextFile(
      new URL("../../dev/fixtures/flux/http-list-services-response.json", import.meta.url),
    ),
  ) as WorkloadStatus[];
  type Expected =
    | { kind: "rolledOut" }
    | { kind: "rolling"; waiting: string[] }
    | { kind: "failed"; reason: string };
  const cases: [string, string[], WorkloadStatus[], string[], Expected][] = [
    [
      "deployment and statefulset ready",
      ["default:deployment/podinfo", "default:statefulset/redis"],
      ready,
      [],
      { kind: "rolledOut" },
    ],
    ["helmrelease deployed", ["default:helmrelease/nginx"], ready, [], { kind: "rolledOut" }],
    ["cronjob always ready", ["default:cronjob/cleanup"], rolling, [], { kind: "rolledOut" }],
    [
      "updating and started are still rolling",
      ["default:deployment/podinfo", "default:statefulset/redis"],
      rolling,
      [],
      {
        kind: "rolling",
        waiting: [
          "default:deployment/podinfo 3/3 ready, 2 outdated",
          "default:statefulset/redis 1/1 ready",
        ],
      },
    ],
    ["the HTTP API's answer reads the same", ["default:deployment/podinfo"], http, [], {
      kind: "rolling",
      waiting: ["default:deployment/podinfo 3/3 ready, 2 outdated"],
    }],
    ["error status with messages fails, naming them", ["default:deployment/podinfo"], error, [], {
      kind: "failed",
      reason:
        'default:deployment/podinfo: ReplicaSet "podinfo-5d8f9c6b7" has timed out progressing.',
    }],
    ["a sync error fails even when ready", ["default:deployment/api"], error, [], {
      kind: "failed",
      reason:
        'default:deployment/api: running kubectl: exit status 1, stderr: The Deployment "api" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"api2"}: `selector` does not match template `labels`',
    }],
    ["not listed yet is still rolling", ["default:deployment/new"], ready, [], {
      kind: "rolling",
      waiting: ["default:deployment/new not listed yet"],
    }],
    ["a seen workload that disappears fails", ["default:deployment/gone"], ready, [
      "default:deployment/gone",
    ], {
      kind: "failed",
      reason: "default:deployment/gone disappeared",
    }],
    [
      "helm failed fails",
      ["default:helmrelease/x"],
      [{ ID: "default:helmrelease/x", Status: "FAILED" }],
      [],
      {
        kind: "failed",
        reason: "default:helmrelease/x: release failed",
      },
    ],
    [
      "helm pending-upgrade is rolling",
      ["default:helmrelease/x"],
      [{ ID: "default:helmrelease/x", Status: "pending-upgrade" }],
      [],
      {
        kind: "rolling",
        waiting: ["default:helmrelease/x pending-upgrade"],
      },
    ],
    [
      "an empty list leaves everything rolling",
      ["default:deployment/podinfo"],
      await listed("rpc-list-services-reply-empty.json"),
      [],
      {
        kind: "rolling",
        waiting: ["default:deployment/podinfo not listed yet"],
      },
    ],
  ];
  for (const [name, watched, list, seen, expect] of cases) {
    await t.step(name, () => {
      const check = judgeRollout(watched, new Map(list.map((w) => [w.ID, w])), new Set(seen));
      const got = check.failed
        ? { kind: "failed", reason: check.failed }
        : check.waiting.length > 0
        ? { kind: "rolling", waiting: check.waiting }
        : { kind: "rolledOut" };
      assert.deepEqual(got, expect);
      if (!check.failed) {
        assert.equal(check.done.length + check.waiting.length, watched.length);
        for (const id of watched) {
          assert.equal(check.seen.includes(id), list.some((w) => w.ID === id) || seen.includes(id));
        }
      }
    });
  }
});

Deno.test("isWorkloadId() knows fluxd's workload kinds", () => {
  for (
    const id of [
      "default:deployment/a",
      "ns:daemonset/b",
      "ns:statefulset/c",
      "ns:cronjob/d",
      "ns:helmrelease/e",
    ]
  ) {
    assert.ok(isWorkloadId(id), id);
  }
  for (const id of ["default:service/a", "<cluster>:namespace/x", "default/legacy", "bad"]) {
    assert.ok(!isWorkloadId(id), id);
  }
});
