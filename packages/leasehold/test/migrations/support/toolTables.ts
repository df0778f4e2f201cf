/**
 * Other tools' history tables, exactly as each tool creates them on PostgreSQL, for the suites
 * that adopt their histories without the tool's own binary (not on these registries).
 */
import { createHash } from "node:crypto"

/** Hex SHA-256 of `text`: the checksum Drizzle and Prisma record for a migration's SQL. */
export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

/** golang-migrate v4.18.1, database/postgres/postgres.go `ensureVersionTable`. */
export const golangMigrateTable = `CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null)`

/** flyway-database-postgresql 10.x `createMetaDataTable.sql`. */
export const flywayHistoryTable = `
  CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
  );
  ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
  CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");`

/** prisma-engines, schema-engine/connectors/sql-schema-connector, PostgreSQL flavour `create_migrations_table`. */
export const prismaMigrationsTable = `
  CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
  )`
