import assert from "node:assert/strict";
import { commandHelp, type Flag, parseFlags, UsageError } from "../../src/cli/args.ts";

const FLAGS: Flag[] = [
  { key: "gitUrl", names: ["git-url"], value: "<url>", help: "" },
  { key: "wait", names: ["wait"], help: "" },
  { key: "pollInterval", names: ["poll-interval"], value: "<duration>", help: "" },
  { key: "pollIntervall", names: ["poll-intervall"], value: "<duration>" },
];
const parse = (args: string[]) => parseFlags(args, FLAGS, "status");

Deno.test("parseFlags() takes --flag value, --flag=value and a boolean with or without a value", () => {
  assert.deepEqual(parse(["--git-url", "x", "--wait"]), { gitUrl: "x", wait: true });
  assert.deepEqual(parse(["--git-url=a=b", "--wait", "false"]), { gitUrl: "a=b", wait: "false" });
  assert.deepEqual(parse(["--wait", "--git-url", "-dash-"]), { wait: true, gitUrl: "-dash-" });
  assert.deepEqual(parse(["--wait=no"]), { wait: "no" });
  assert.deepEqual(parse(["--poll-intervall", "10", "--git-url", "a", "--git-url", "b"]), {
    pollIntervall: "10",
    gitUrl: "b",
  });
});

Deno.test("parseFlags() refuses what commander refused, in one line", () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^unknown option '--bogus'$/],
    [["--git-ur", "x"], /^unknown option '--git-ur' \(did you mean --git-url\?\)$/],
    [["--git-url"], /^option '--git-url <url>' argument missing$/],
    [["extra"], /^unexpected argument 'extra' for 'status'/],
    [["-w"], /^unexpected argument '-w'/],
  ];
  for (const [args, pattern] of cases) {
    assert.throws(
      () => parse(args),
      (err: Error) => err instanceof UsageError && pattern.test(err.message),
    );
  }
});

Deno.test("parseFlags() takes a flag's one-letter spelling, and help shows it", () => {
  const flags: Flag[] = [...FLAGS, {
    key: "output",
    names: ["output"],
    short: "o",
    value: "<format>",
    help: "Output",
  }];
  assert.deepEqual(parseFlags(["-o", "text"], flags, "status"), { output: "text" });
  assert.deepEqual(parseFlags(["-o=text", "--wait"], flags, "status"), {
    output: "text",
    wait: true,
  });
  assert.throws(() => parseFlags(["-o"], flags, "status"), /argument missing/);
  assert.throws(() => parseFlags(["-x"], flags, "status"), /unexpected argument '-x'/);
  assert.match(
    commandHelp("flux-status status", "", flags),
    /^ {2}-o, --output <format> +Output$/m,
  );
});

Deno.test("parseFlags() adds up a repeatable flag's values; others keep the last", () => {
  const flags: Flag[] = [
    { key: "namespace", names: ["namespace"], value: "<ns>", repeatable: true },
    { key: "gitUrl", names: ["git-url"], value: "<url>" },
  ];
  const out = parseFlags(
    ["--namespace", "apps", "--git-url", "a", "--namespace=infra,tools", "--git-url", "b"],
    flags,
    "daemon",
  );
  assert.deepEqual(out, { namespace: "apps,infra,tools", gitUrl: "b" });
});
