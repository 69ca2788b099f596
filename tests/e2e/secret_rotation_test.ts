/**
 * Secrets given as files are read again while the daemon runs, the way the kubelet rotates a
 * mounted Secret: a new `..<timestamp>` folder and an atomic swap of the `..data` symlink.
 */
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { SecretFiles } from "../../src/config/secret_files.ts";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { syncEvent } from "../../dev/fakes/fluxd_events.ts";
import { startDaemonProcess } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";

/** A Secret volume as the kubelet writes it: `token → ..data/token`, `..data → ..<n>`. */
async function secretVolume(dir: string, value: string) {
  let n = 0;
  const write = async (text: string) => {
    const folder = `..2026_12_03_${n++}`;
    await Deno.mkdir(`${dir}/${folder}`);
    await Deno.writeTextFile(`${dir}/${folder}/token`, text);
    await Deno.symlink(folder, `${dir}/..data_tmp`);
    await Deno.rename(`${dir}/..data_tmp`, `${dir}/..data`); // the atomic swap
  };
  await write(value);
  await Deno.symlink("..data/token", `${dir}/token`);
  return { path: `${dir}/token`, rotate: write };
}

Deno.test("SecretFiles reads a rotated Secret volume's new value, and keeps the last good one", async () => {
  await using dir = await tempDir();
  const volume = await secretVolume(dir.path, "old-token\n");
  const config = { githubToken: "old-token", instance: "dev" };
  const secrets = new SecretFiles([{ key: "githubToken", path: volume.path }], config);
  const live = secrets.live(config);
  assert.deepEqual(await secrets.refresh(), []);
  await volume.rotate("new-token\n");
  assert.deepEqual(await secrets.refresh(), ["githubToken"]);
  assert.equal(live.githubToken, "new-token");
  assert.equal(live.instance, "dev");
  await Deno.remove(`${dir.path}/..data`);
  assert.deepEqual(await secrets.refresh(), [], "an unreadable file changes nothing");
  assert.equal(live.githubToken, "new-token");
});

Deno.test("a token rotated in its Secret volume is used at once: the status refused with the old one is delivered with the new one", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/secret`);
  const volume = await secretVolume(`${dir.path}/secret`, "old-t0ken-value\n");
  await using gh = await startFakeGitHub({ tokens: ["new-t0ken-value"] });
  await using daemon = await startDaemonProcess([
    "--git-url",
    "git@github.com:acme/app.git",
    "--api-url",
    gh.url,
    "--store",
    `${dir.path}/kv.sqlite`,
    "--poll-workloads=false",
    "--github-token-file",
    volume.path,
    "--secret-poll-interval",
    "100ms",
  ]);
  const sha = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a";
  const res = await fetch(`${daemon.url}/v6/events`, {
    method: "POST",
    body: JSON.stringify(syncEvent({ commits: [{ revision: sha, message: "x" }] })),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await daemon.waitForLine(/Pausing every call to/);
  await volume.rotate("new-t0ken-value\n");
  await gh.waitFor(() => gh.statusesOf(sha).length > 0, "the status with the new token");
  assert.equal(gh.statusesOf(sha)[0]!.state, "success");
  const output = daemon.output();
  assert.ok(!output.includes("old-t0ken-value") && !output.includes("new-t0ken-value"), output);
  assert.match(output, /Read a new value of .*githubToken/);
});

Deno.test("a secret file that cannot be read warns once per change of cause, not on every poll", async () => {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (r) => records.push(r) },
    loggers: [
      { category: ["flux-status"], sinks: ["memory"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
  try {
    const answers: (string | Error)[] = [];
    const secrets = new SecretFiles(
      [{ key: "githubToken", path: "/run/secrets/token" }],
      { githubToken: "tok" },
      (_path) => {
        const next = answers.shift()!;
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
      },
    );
    const notFound = () => Object.assign(new Error("gone"), { name: "NotFound" });
    const denied = () => Object.assign(new Error("no"), { name: "PermissionDenied" });
    answers.push(
      ...Array.from({ length: 100 }, notFound),
      denied(),
      denied(),
      "tok\n",
      notFound(),
    );
    for (let i = 0; i < 104; i++) await secrets.refresh();
    const lines = records.map((r) => `${r.level} ${r.rawMessage}`);
    assert.deepEqual(lines, [
      "warning Cannot read {file} again, keeping the value read before: {error}",
      "warning Cannot read {file} again, keeping the value read before: {error}",
      "info Can read {file} again",
      "warning Cannot read {file} again, keeping the value read before: {error}",
    ]);
    assert.deepEqual(records.filter((r) => r.level === "warning").map((r) => r.properties.error), [
      "NotFound",
      "PermissionDenied",
      "NotFound",
    ]);
  } finally {
    await reset();
  }
});
