/**
 * flux-status as a library: parse git remote URLs, build notifiers, validate fluxd events, and
 * the error classes callers catch.
 *
 * @module
 */
export {
  type GitRemote,
  GitUrlError,
  parseGitUrl,
  type ProviderName,
  PROVIDERS,
} from "./src/notifiers/git_url.ts";
export { createNotifier, type CreateNotifierOptions } from "./src/notifiers/mod.ts";
export type { GitHubApp } from "./src/notifiers/github_app.ts";
export {
  type Action,
  type CommitStatus,
  type FailureKind,
  isTerminal,
  type Notifier,
  NotifierError,
  ProviderError,
  type ReadStatus,
  type State,
  STATES,
  type StatusChange,
  statusName,
  type Token,
  tokenValue,
} from "./src/notifiers/notifier.ts";
export {
  EventError,
  type FluxEvent,
  type ParsedEvent,
  parseEvent,
  type SyncOutcome,
} from "./src/sources/flux/events.ts";
export { ConfigError } from "./src/config/config.ts";
