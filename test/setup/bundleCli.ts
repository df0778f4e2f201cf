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
  const outdir = fileURLToPath(new URL("../../packages/cli/dist", import.meta.url))
  await bundle(outdir)
  process.env["LEASEHOLD_TEST_CLI"] = `${outdir}/leasehold.mjs`
}
