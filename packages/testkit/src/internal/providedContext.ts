// What the global setup hands to every test file through vitest's provide/inject.
declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL server (`postgres` database). Never print it. */
    leaseholdPgAdminUrl: string
    /** Where that server came from: env, embedded or testcontainers. */
    leaseholdPgKind: string
  }
}

export {}
