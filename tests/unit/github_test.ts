import assert from "node:assert/strict";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import { createGitHubNotifier, fromGitHubState, TO_GITHUB } from "../../src/notifiers/github.ts";
import { createNotifier } from "../../src/notifiers/mod.ts";
import { NotifierError, STATES } from "../../src/notifiers/notifier.ts";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { startSilentServer } from "../../dev/fakes/silent_server.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { runOutbox, shaOf, syncChange } from "../_outbox.ts";
import { tempDir } from "../_helpers.ts";

const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";

Deno.test("GitHub state table maps both ways", async (t) => {
  for (const state of STATES) {
    const description = state === "canceled" ? "Canceled: Superseded by 3f2a9c1" : "text";
    await t.step(state, () => assert.equal(fromGitHubState(TO_GITHUB[state], description), state));
  }
  assert.equal(fromGitHubState("error", "canceled: superseded by 3f2a9c1"), "canceled");
  assert.equal(fromGitHubState("error", "Deployment error"), "failed");
});

Deno.test("GitHub notifier writes every state and reads each back as written", async (t) => {
  await using gh = await startFakeGitHub();
  const notifier = createGitHubNotifier({
    remote: parseGitUrl("https://github.com/acme/app"),
    token: "test-token",
    apiUrl: gh.url,
  });
  for (const state of STATES) {
    await t.step(state, async () => {
      const name = `flux-status/dev/${state}`;
      await notifier.setStatus(SHA, { name, state, description: `Now ${state}` });
      // The fake decodes with its own table what it received…
      assert.deepEqual(gh.commitStatuses(SHA).at(-1), {
        name,
        state,
        description: `Now ${state}`,
      });
      // …and the notifier reads it back the same.
      const read = await notifier.getStatus(SHA, name);
      assert.deepEqual([read?.state, read?.description], [state, `Now ${state}`]);
    });
  }
  assert.deepEqual(gh.violations, []);
});

Deno.test("createNotifier() refuses an empty token, a bad API URL and an unsupported provider", async (t) => {
  const cases: [string, Parameters<typeof createNotifier>[0], RegExp][] = [
    [
      "empty token",
      { remote: parseGitUrl("https://github.com/acme/app"), token: " " },
      /^Cannot set statuses on GitHub without a token/,
    ],
    [
      "ftp API URL",
      { remote: parseGitUrl("https://gitlab.com/acme/app"), token: "t", apiUrl: "ftp://x/api/v4" },
      /^Cannot set statuses on GitLab as its API URL must be http\(s\): current value is 'ftp:\/\/x\/api\/v4'/,
    ],
    [
      "empty Gitea token",
      { remote: parseGitUrl("https://gitea.example.com/acme/app", "gitea"), token: "" },
      /^Cannot set statuses on Gitea without a token/,
    ],
  ];
  for (const [name, options, message] of cases) {
    await t.step(name, async () => {
      await assert.rejects(createNotifier(options), (err: Error) => {
        assert.ok(err instanceof NotifierError);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

Deno.test("A GitHub connection that never answers or is reset: the delivery is freed and every call paused as unreachable", async (t) => {
  const cases = [
    // Takes connections and never answers: only the request timeout ends a call.
    { name: "never answers", hangUp: false, error: /the request timed out/ },
    // Takes connections and hangs up at once: a reset before any answer.
    { name: "reset", hangUp: true, error: /no response arrived/ },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using server = startSilentServer(c.hangUp ? "hangUp" : "hang");
      await using dir = await tempDir();
      using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
      const notifier = createGitHubNotifier({
        remote: parseGitUrl("https://github.com/acme/app"),
        token: "test-token",
        apiUrl: server.url,
        timeoutMs: 200,
      });
      const clock = new ManualClock();
      {
        await using run = runOutbox(kv, clock, notifier, { concurrency: 1 });
        await run.enqueue([syncChange(SHA), syncChange(shaOf(2))]);
        await run.settledCount(1);
        const [s] = run.settled;
        assert.equal(s?.outcome, "retry");
        assert.match(s!.error!, c.error);
        assert.equal(run.outbox.pause.current?.kind, "unreachable");
        await clock.whenSleeping(clock.now() + s!.delayMs!); // sleeping out the pause: freed
        assert.equal(run.settled.length, 1, "no second call while the provider is paused");
        assert.equal((await run.pending()).length, 2, "both statuses kept");
      }
    });
  }
});

Deno.test("GitHub notifier follows Link pages, and a hung page ends with the request's signal", async () => {
  await using gh = await startFakeGitHub();
  const notifier = createGitHubNotifier({
    remote: parseGitUrl("https://github.com/acme/app"),
    token: "test-token",
    apiUrl: gh.url,
  });
  await notifier.setStatus(SHA, {
    name: "flux-status/dev/sync",
    state: "succeeded",
    description: "old",
  });
  const now = new Date().toISOString();
  const list = gh.statuses.get(`acme/app@${SHA}`) ?? [];
  for (let i = 0; i < 230; i++) {
    list.unshift({
      id: 1000 + i,
      state: "success",
      description: "other CI",
      target_url: null,
      context: `ci/job-${i}`,
      created_at: now,
      updated_at: now,
    });
  }
  gh.statuses.set(`acme/app@${SHA}`, list);
  assert.equal((await notifier.getStatus(SHA, "flux-status/dev/sync"))?.description, "old");
  assert.deepEqual(
    (await notifier.listStatuses(SHA, "flux-status/")).map((s) => s.name),
    ["flux-status/dev/sync"],
  );
  const pages = gh.received.filter((r) => r.path.endsWith("/statuses") && r.method === "GET");
  assert.deepEqual(pages.slice(-3).map((r) => new URLSearchParams(r.query).get("page")), [
    null,
    "2",
    "3",
  ]);

  await using silent = startSilentServer("hang");
  const hung = createGitHubNotifier({
    remote: parseGitUrl("https://github.com/acme/app"),
    token: "test-token",
    apiUrl: silent.url,
  });
  const controller = new AbortController();
  const reading = hung.listStatuses(SHA, "flux-status/", controller.signal);
  await silent.connected;
  controller.abort();
  await assert.rejects(reading);
});
