/**
 * Builds the production bundle of the `leasehold` command once per test run (what the image
 * runs, `pnpm --filter @leasehold/cli build`), so the suites that start the command as a real
 * process run the built CLI, not the sources: `LEASEHOLD_TEST_CLI` names it for the test workers.
 * `LEASEHOLD_TEST_CLI=sources` runs the sources instead.
 */
import { fileURLToPath } from "node:url"
import { bundle } from "../../packages/cli/scripts/bundle.ts"

export default async function setup(): Promise<void> {
  if (process.env["LEASEHOLD_TEST_CLI"] === "sources") {
    delete process.env["LEASEHOLD_TEST_CLI"]
    return
  }
  // A folder of its own inside the CLI package (so the bundle finds the packages it leaves
  // outside in the package's node_modules), apart from `dist`, which a benchmark may rebuild.
  const outdir = fileURLToPath(new URL("../../packages/cli/dist/test-run", import.meta.url))
  await bundle(outdir)
  process.env["LEASEHOLD_TEST_CLI"] = `${outdir}/leasehold.mjs`
}
