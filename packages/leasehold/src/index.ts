/**
 * Leasehold: migrate PostgreSQL exactly once, before any Kubernetes pod serves.
 *
 * Most apps need two things: `ready(...)` (or the Effect `Leasehold.ready`) before serving, and
 * `readinessHandler` for the pod's `/readyz`. The parts, each usable on its own:
 * - `leasehold/election` (a subpath of its own, so that importing the package never loads the
 *   Kubernetes client) — client-go's Lease election over `@kubernetes/client-node`;
 * - `Fences` — the advisory-lock fence with epochs on a dedicated session;
 * - `Migrations` — discovery, checksums, history and the fenced runner;
 * - `Signal` — NOTIFY hints and the listen-then-check waiter;
 * - `Postgres` — connections, quoting and the one error classifier (`SqlError`);
 * - `Backoff` — the one capped, jittered backoff every retry waits by.
 */
export * from "./coordinator/index.ts"
export * as Fences from "./fence/index.ts"
export * as Migrations from "./migrations/index.ts"
export * as Signal from "./signal/index.ts"
export * as Configuration from "./coordinator/Config.ts"
export * as Postgres from "./postgres/index.ts"
export * as Backoff from "./schedule/Backoff.ts"
