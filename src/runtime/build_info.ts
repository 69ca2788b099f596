/**
 * Build facts stamped by scripts/compile.ts into release binaries; "unknown" in source.
 *
 * @module
 */

/** The git commit the binary was built from. */
export const BUILD_COMMIT: string = "unknown";
