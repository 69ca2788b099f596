import assert from "node:assert/strict";
import { parseGitUrl } from "../src/git_url.ts";
import { createGitHubNotifier, fromGitHubState, TO_GITHUB } from "../src/notifiers/github.ts";
import { STATES } from "../src/notifiers/notifier.ts";
import { startFakeGitHub } from "./fakes/github.ts";

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
