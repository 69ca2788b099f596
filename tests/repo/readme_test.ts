import assert from "node:assert/strict";
import { withOptions } from "../../scripts/readme.ts";
import { envName, flagName, OPTION_META } from "../../src/config/config.ts";

const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

Deno.test("README's options tables are the ones the config schema generates", async () => {
  const formatted = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = formatted.stdin.getWriter();
  await writer.write(new TextEncoder().encode(withOptions(readme)));
  await writer.close();
  const expected = new TextDecoder().decode((await formatted.output()).stdout);
  assert.equal(readme, expected, "README.md is out of date: run deno task readme");
});

Deno.test("README names every flag and env var, and the exit codes", () => {
  for (const [key, meta] of Object.entries(OPTION_META)) {
    assert.ok(readme.includes(`\`--${flagName(key)}\``), `--${flagName(key)}`);
    assert.ok(readme.includes(`\`${envName(key)}\``), envName(key));
    for (const env of meta.env ?? []) assert.ok(readme.includes(env), env);
  }
  for (const code of [0, 1, 2, 3, 4, 124]) {
    assert.match(readme, new RegExp(`^\\| ${code}\\s+\\|`, "m"), `exit code ${code}`);
  }
});
