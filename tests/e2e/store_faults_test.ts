/**
 * Store faults on real file systems: the daemon's store on a volume mounted read-only, and on a
 * volume that fills up. Each runs the daemon inside a user and mount namespace (`unshare -Urm`)
 * where a test may mount, so no privilege of the machine's is needed.
 */
import assert from "node:assert/strict";
import { runCli, startDaemonProcess } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";
import { commitList, syncEvent } from "../../dev/fakes/fluxd_events.ts";
import { startFakeGitLab } from "../../dev/fakes/gitlab.ts";

const UNSHARE = "/usr/bin/unshare";
/** Runs the rest of its arguments in a new mount namespace after `script` set up `$0` (the folder). */
const inNamespace = (script: string, folder: string) =>
  [UNSHARE, "-Urm", "/bin/sh", "-c", `${script} && exec "$@"`, folder] as const;
/** Whether this machine lets an unprivileged user namespace mount (CI's machines do). */
const canMount = (() => {
  try {
    return new Deno.Command(UNSHARE, { args: ["-Urm", "true"] }).outputSync().success;
  } catch {
    return false;
  }
})();

const daemonArgs = (store: string, apiUrl = "http://127.0.0.1:9/api/v4") => [
  "--git-url",
  "https://gitlab.com/acme/app.git",
  "--provider",
  "gitlab",
  "--gitlab-token",
  "test-token",
  "--api-url",
  apiUrl,
  "--poll-workloads=false",
  "--store",
  store,
];

Deno.test({
  name: "a store on a read-only volume stops the daemon at start with one line saying what to do",
  ignore: !canMount,
  async fn() {
    await using dir = await tempDir();
    // Stores written earlier, when the volume was writable: one closed cleanly (SQLite removed
    // its write-ahead log), one by a process that exited without closing it, as a killed daemon
    // does (the log is still there).
    const closed = `${dir.path}/closed.sqlite`, killed = `${dir.path}/killed.sqlite`;
    const kv = await Deno.openKv(closed);
    await kv.set(["x"], 1);
    kv.close();
    const writer = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--unstable-kv",
        `await (await Deno.openKv(${JSON.stringify(killed)})).set(["x"], 1); Deno.exit(0)`,
      ],
    }).output();
    assert.ok(writer.success && (await Deno.stat(`${killed}-wal`)).isFile);
    const readOnly = inNamespace(
      `mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"`,
      dir.path,
    );

    const cases = [
      [
        killed,
        /^error: Cannot write to the store '.*killed\.sqlite' \(.*read-only.*\): the volume is read-only or full; mount it writable with free space$/,
      ],
      [
        closed,
        /^error: Cannot open the store '.*closed\.sqlite' \(unable to open database file\): check the volume is mounted and writable/,
      ],
      [
        `${dir.path}/new/kv.sqlite`,
        /^error: Cannot open the store '.*new\/kv\.sqlite' \(Read-only file system.*\): check the volume is mounted and writable/,
      ],
    ] as const;
    for (const [store, message] of cases) {
      const out = await runCli(["daemon", ...daemonArgs(store)], {}, readOnly);
      assert.equal(out.code, 1, out.stderr);
      const lines = out.stderr.trim().split("\n");
      assert.equal(lines.length, 1, out.stderr);
      assert.match(lines[0]!, message);
    }
  },
});

Deno.test({
  name:
    "a full volume gets fluxd a 503 with the reason, loses nothing, and the event lands once there is room",
  ignore: !canMount,
  async fn() {
    await using gl = await startFakeGitLab();
    await using dir = await tempDir();
    const size = 4 << 20;
    await using daemon = await startDaemonProcess(
      daemonArgs(`${dir.path}/kv.sqlite`, gl.url),
      {},
      undefined,
      inNamespace(`mount -t tmpfs -o size=${size} tmpfs "$0"`, dir.path),
    );
    // The volume as the daemon sees it; a filler takes all but 32 KiB of it.
    const volume = `/proc/${daemon.pid}/root${dir.path}`;
    const used = [...Deno.readDirSync(volume)]
      .reduce((sum, e) => sum + Deno.statSync(`${volume}/${e.name}`).size, 0);
    await Deno.writeFile(`${volume}/filler`, new Uint8Array(size - used - (32 << 10)));

    const post = (i: number) =>
      fetch(`${daemon.url}/v6/events`, {
        method: "POST",
        body: JSON.stringify(syncEvent({ commits: commitList(20, i * 20) })),
      });
    const acked: number[] = [];
    let refused: { status: number; retryAfter: string | null; error: string } | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const res = await post(i);
      if (res.status === 200) {
        acked.push(i);
        await res.body?.cancel();
      } else {
        const { error } = await res.json();
        refused = { status: res.status, retryAfter: res.headers.get("retry-after"), error };
      }
    }
    assert.ok(refused, "the volume filled up");
    assert.equal(refused.status, 503);
    assert.equal(refused.retryAfter, "10");
    assert.match(refused.error, /full/, "the answer says why");
    const health = await fetch(`${daemon.url}/healthz`);
    assert.equal(health.status, 503);
    assert.match((await health.json()).reason, /the store is not writable: .*full/i);

    // Room again (fluxd re-sends what got the 503): the same event lands, and every acked one's
    // statuses reach the provider.
    await Deno.remove(`${volume}/filler`);
    const again = await post(acked.length);
    assert.equal(again.status, 200, await again.text());
    acked.push(acked.length);
    const heads = acked.map((i) => commitList(1, i * 20)[0]!.revision);
    await gl.waitFor(
      () => heads.every((sha) => gl.history.get(sha)?.some((j) => j.status === "success")),
      "every acked event's head status",
    );
    assert.ok(daemon.output().includes("database or disk is full"), "the reason is in the log");
  },
});
