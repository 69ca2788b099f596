/**
 * The version has one source, deno.json; the commit is stamped into src/runtime/build_info.ts by
 * scripts/compile.ts for release binaries.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { BUILD_COMMIT } from "./build_info.ts";

/** flux-status's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The git commit a release binary was built from, or "unknown" when run from source. */
export const COMMIT: string = BUILD_COMMIT;
