import { mkdtempSync, mkdirSync, rmSync, writeFileSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Effect, type Scope } from "effect"

/** A file's content: text (written as UTF-8), raw bytes, or a symlink to a target. */
export type FileContent = string | Uint8Array | { readonly symlink: string }

/** Writes files (paths relative to the folder) into `directory`. */
export const writeFiles = (directory: string, files: Record<string, FileContent>): void => {
  for (const [path, content] of Object.entries(files)) {
    const full = join(directory, path)
    mkdirSync(dirname(full), { recursive: true })
    if (typeof content === "object" && "symlink" in content) symlinkSync(content.symlink, full)
    else writeFileSync(full, content)
  }
}

/** A temporary migrations folder holding `files`, removed when the scope closes. */
export const migrationFolder = (files: Record<string, FileContent>): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const directory = mkdtempSync(join(tmpdir(), "leasehold-migrations-"))
      writeFiles(directory, files)
      return directory
    }),
    (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
  )
