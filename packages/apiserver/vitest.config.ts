import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

/**
 * Runs this package's suite on its own, without the workspace's global
 * PostgreSQL setup: `pnpm exec vitest run --config packages/apiserver/vitest.config.ts`.
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL(".", import.meta.url)),
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks"
  }
})
