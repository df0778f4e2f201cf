import { describe, expect, it } from "@effect/vitest"
import { checksum, normaliseScript } from "../../src/migrations/Checksum.ts"

describe("checksums", () => {
  it("are SHA-256 (hex) over the content", () => {
    // printf 'select 1;\n' | sha256sum
    expect(checksum("select 1;\n")).toBe("4a45092ccf992ea92250053a80b931b787924ba61648f420555511b84f10ab6c")
  })

  it("ignore CRLF line endings and a byte-order mark, but not other changes", () => {
    const lf = "create table a (id int);\nselect 1;\n"
    expect(checksum("\uFEFFcreate table a (id int);\r\nselect 1;\r\n")).toBe(checksum(lf))
    expect(normaliseScript("\uFEFFa\r\nb")).toBe("a\nb")
    expect(checksum("create table a (id bigint);\nselect 1;\n")).not.toBe(checksum(lf))
    expect(checksum(lf + " ")).not.toBe(checksum(lf))
  })
})
