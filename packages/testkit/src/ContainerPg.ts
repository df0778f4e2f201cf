import type { PgServer } from "./PgServer.ts"

/**
 * Starts PostgreSQL in a container through testcontainers. Needs a Docker engine; where none
 * answers (as on the machines this project is built on) it fails with a message saying so.
 * Chosen with `LEASEHOLD_TEST_PG=testcontainers`.
 */
export const startContainerPg = async (image = "postgres:18-alpine"): Promise<PgServer> => {
  let module: typeof import("@testcontainers/postgresql")
  try {
    module = await import("@testcontainers/postgresql")
  } catch (cause) {
    throw new Error("LEASEHOLD_TEST_PG=testcontainers needs the optional dependency @testcontainers/postgresql", { cause })
  }
  let container: Awaited<ReturnType<InstanceType<typeof module.PostgreSqlContainer>["start"]>>
  try {
    container = await new module.PostgreSqlContainer(image)
      .withCommand(["postgres", "-c", "fsync=off", "-c", "max_connections=600"])
      .start()
  } catch (cause) {
    throw new Error(
      "LEASEHOLD_TEST_PG=testcontainers but no Docker engine answered; unset it to use embedded PostgreSQL, or set DATABASE_URL",
      { cause }
    )
  }
  const host = container.getHost()
  const port = container.getPort()
  const user = container.getUsername()
  const password = container.getPassword()
  return {
    kind: "testcontainers",
    adminUrl: `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/postgres`,
    host,
    port,
    user,
    password,
    stop: async () => {
      await container.stop()
    }
  }
}
