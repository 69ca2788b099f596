import assert from "node:assert/strict";
import { denoPermissions } from "../../src/cli/permissions.ts";
import { FakeFluxd } from "../../dev/fakes/fluxd.ts";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { startKubeApiserver } from "../../dev/fakes/kube_apiserver.ts";
import { C1, FLEET_URL, flux, gitRepository, writeKubeconfig } from "../_kube.ts";
import { runCli, startDaemonProcess } from "../_cli.ts";
import { fixture, tempDir } from "../_helpers.ts";

Deno.test("denoPermissions() grants the listen address, the API hosts, the store folder and the secret files", () => {
  assert.deepEqual(
    denoPermissions({
      listen: "0.0.0.0:3000",
      urls: ["https://api.github.com", "http://localhost:3030"],
      store: "/data/flux-status.kv",
      files: ["/var/run/secrets/flux-status/github/token"],
    }),
    [
      "--allow-net=0.0.0.0:3000,api.github.com,localhost:3030",
      "--allow-read=/data,/var/run/secrets/flux-status/github/token",
      "--allow-write=/data",
      "--allow-env",
      "--unstable-kv",
    ],
  );
  assert.deepEqual(
    denoPermissions({ listen: ":3000", urls: [], store: "flux-status.kv", files: [] }).slice(0, 3),
    ["--allow-net=0.0.0.0:3000", "--allow-read=.", "--allow-write=."],
  );
  assert.deepEqual(
    denoPermissions({ listen: "[::1]:3000", urls: [], store: "s.kv", files: [] })[0],
    "--allow-net=[::1]:3000",
  );
  assert.deepEqual(
    denoPermissions({ listen: "127.0.0.1:0", urls: [], store: "s.kv", files: [] })[0],
    "--allow-net=127.0.0.1",
  );
});

Deno.test("the daemon runs end to end under exactly the permissions `flux-status permissions` prints", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  const tokenFile = `${dir.path}/github-token`;
  await Deno.writeTextFile(tokenFile, "test-token\n");
  const args = [
    "--instance",
    "dev",
    "--git-url",
    "git@github.com:acme/app.git",
    "--api-url",
    gh.url,
    "--store",
    `${dir.path}/store/kv.sqlite`,
    "--github-token-file",
    tokenFile,
    "--poll-workloads=false",
  ];
  const printed = await runCli(["permissions", ...args, "--listen", "127.0.0.1:0"]);
  assert.equal(printed.code, 0, printed.stderr);
  const permissions = printed.stdout.trim().split(" ");
  assert.ok(!permissions.includes("-A") && !permissions.includes("--allow-all"));
  assert.deepEqual(
    permissions.filter((p) => !p.startsWith("--allow-") && p !== "--unstable-kv"),
    [],
  );
  assert.ok(permissions.includes(`--allow-write=${dir.path}/store`));
  await using daemon = await startDaemonProcess(args, {}, permissions);
  await using fluxd = new FakeFluxd({ connect: daemon.connect });
  assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
  await gh.waitFor(
    () => gh.statusesOf("2f0ab35ccef1a06269ce618a6f1b01e7332b69b9").length > 0,
    "a status delivered by the restricted daemon",
  );
  assert.equal(await daemon.terminate(), 0);
  assert.doesNotMatch(daemon.output(), /NotCapable|PermissionDenied|Requires .* access/);
});

Deno.test("daemon --kubernetes runs end to end under exactly the permissions `flux-status permissions` prints", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub({ repos: ["acme/fleet"] });
  const api = startKubeApiserver();
  try {
    const { kubeconfig, tokenFile } = await writeKubeconfig(api, dir.path);
    const args = [
      "--kubernetes",
      "--kubeconfig",
      kubeconfig,
      "--git-url",
      FLEET_URL,
      "--api-url",
      gh.url,
      "--store",
      `${dir.path}/store/kv.sqlite`,
    ];
    const printed = await runCli(["permissions", ...args, "--listen", "127.0.0.1:0"], {
      GITHUB_TOKEN: "test-token",
    });
    assert.equal(printed.code, 0, printed.stderr);
    const permissions = printed.stdout.trim().split(" ");
    const net = permissions.find((p) => p.startsWith("--allow-net="))!;
    assert.ok(net.includes(new URL(api.url).host), net);
    assert.ok(!net.includes("localhost:3030"), "no fluxd API in this mode");
    const read = permissions.find((p) => p.startsWith("--allow-read="))!;
    assert.ok(read.includes(tokenFile), read);
    api.apply(gitRepository(C1));
    api.apply(flux("kustomization-apps-ready"));
    await using daemon = await startDaemonProcess(
      args,
      { GITHUB_TOKEN: "test-token" },
      permissions,
    );
    await gh.waitFor(
      () => gh.statusesOf(C1).some((s) => s.context === "flux-status/default/workload"),
      "the roll-up delivered by the restricted daemon",
    );
    assert.equal(await daemon.terminate(), 0);
    assert.doesNotMatch(daemon.output(), /NotCapable|PermissionDenied|Requires .* access/);
  } finally {
    await api.close();
  }
});
