/**
 * Secrets read from files (`--*-file`, `FLUX_STATUS_*_FILE`), read again while the daemon runs so
 * that a rotated Secret takes effect without a restart. The kubelet rotates a mounted Secret by
 * writing a new `..<timestamp>` folder and swapping the `..data` symlink onto it atomically; the
 * file path (`token → ..data/token`) then resolves to the new content. Reading the path again is
 * the whole mechanism: no inotify (events on a swapped symlink are easy to miss), no permission
 * beyond reading the file itself. A file that cannot be read keeps the last good value, with one
 * warning when it starts failing (or fails another way), not one per poll, and a line when it can
 * be read again; a value never appears in a log line.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { maskSecret } from "../runtime/logging.ts";

const log = getLogger(["flux-status", "secrets"]);

/** One secret option read from a file. */
export interface SecretFile {
  /** The option key, e.g. `githubToken`. */
  key: string;
  /** The file. */
  path: string;
  /** Used byte for byte (not trimmed). */
  raw?: boolean;
}

/** The current values of the secrets read from files. */
export class SecretFiles {
  #files: SecretFile[];
  #values = new Map<string, string>();
  /** Why each file that cannot be read failed last (the error's name). */
  #failing = new Map<string, string>();
  #read: (path: string) => Promise<string>;

  /**
   * @param files the secrets that came from files
   * @param initial their values as first read (the config's)
   * @param read reads a file (injected in tests)
   */
  constructor(
    files: SecretFile[],
    initial: Record<string, unknown>,
    read: (path: string) => Promise<string> = (path) => Deno.readTextFile(path),
  ) {
    this.#files = files;
    this.#read = read;
    for (const f of files) {
      if (typeof initial[f.key] === "string") this.#values.set(f.key, initial[f.key] as string);
    }
  }

  /** Whether any secret comes from a file. */
  get watching(): boolean {
    return this.#files.length > 0;
  }

  /**
   * A view of `config` whose file-sourced secrets read their current values: give it to
   * everything that reads a secret at call time.
   */
  live<T extends object>(config: T): T {
    return new Proxy(config, {
      get: (target, prop, receiver) =>
        typeof prop === "string" && this.#values.has(prop)
          ? this.#values.get(prop)
          : Reflect.get(target, prop, receiver),
    });
  }

  /**
   * Reads every file again.
   *
   * @returns the keys whose value changed
   */
  async refresh(): Promise<string[]> {
    const changed: string[] = [];
    for (const f of this.#files) {
      let text: string;
      try {
        text = await this.#read(f.path);
      } catch (err) {
        const error = err instanceof Error ? err.name : String(err);
        if (this.#failing.get(f.path) !== error) {
          log.warn("Cannot read {file} again, keeping the value read before: {error}", {
            file: f.path,
            error,
          });
          this.#failing.set(f.path, error);
        }
        continue;
      }
      if (this.#failing.delete(f.path)) log.info("Can read {file} again", { file: f.path });
      const value = f.raw ? text : text.trim();
      if (value === "" || value === this.#values.get(f.key)) continue;
      maskSecret(value); // before anything else could log it
      this.#values.set(f.key, value);
      changed.push(f.key);
      log.info("Read a new value of {option} from {file}", { option: f.key, file: f.path });
    }
    return changed;
  }
}
