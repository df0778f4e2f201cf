/**
 * Query parameters of the Lease endpoints, decoded as kube-apiserver decodes them
 * (k8s.io/apimachinery/pkg/apis/meta/v1/conversion.go, .../meta/v1/validation,
 * .../meta/internalversion/validation, apiserver's endpoints/handlers). Raw HTTP, so the
 * exact query string reaches the server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { lease, leasesPath, openTarget, realCluster, request, type Target } from "./support/Target.ts"

let t: Target
let name: string
beforeAll(async () => {
  t = await openTarget({ bookmarkIntervalMs: 100 })
  name = t.name("query")
  await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(name, { holderIdentity: "a" }, { suite: "query" }) })
})
afterAll(() => t.close())

const collection = () => leasesPath(t.namespace)

/** GET of the collection with a raw query; a watch is cut after 1 s by timeoutSeconds. */
const get = (query: string, headers: Record<string, string> = {}) =>
  request(t, "GET", `${collection()}?${query}&timeoutSeconds=1&fieldSelector=metadata.name%3D${name}`, undefined, headers)

/** The kind of answer: the event types of a watch stream, or the kind of a single object. */
const answerKind = (text: string): string => {
  const lines = text.split("\n").filter((l) => l.length > 0)
  const parsed = lines.map((l) => JSON.parse(l) as { type?: string; kind?: string })
  return parsed.every((p) => p.type !== undefined) ? `watch ${parsed.map((p) => p.type).join(",")}` : String(parsed[0]?.kind)
}

const badRequest = (message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason: "BadRequest",
  code: 400
})

describe("booleans: Convert_Slice_string_To_bool (absent, \"0\" or any case of \"false\" → false; any other value, \"\" included → true)", () => {
  for (const query of ["watch=True", "watch=1", "watch=", "watch", "watch=TRUE", "watch=yes"]) {
    it(`?${query} starts a watch, not a LeaseList`, async () => {
      const res = await get(query)
      expect(res.status).toBe(200)
      expect(answerKind(res.text)).toBe("watch ADDED")
    })
  }

  for (const query of ["watch=FALSE", "watch=False", "watch=false", "watch=0", "other=1"]) {
    it(`?${query} lists`, async () => {
      const res = await get(query)
      expect(res.status).toBe(200)
      expect(answerKind(res.text)).toBe("LeaseList")
    })
  }

  it("only the first of repeated watch values counts (Convert_Slice_string_To_bool reads (*in)[0])", async () => {
    expect(answerKind((await get("watch=0&watch=1")).text)).toBe("LeaseList")
    expect(answerKind((await get("watch=1&watch=0")).text)).toBe("watch ADDED")
  })

  it("a GET of one named Lease with ?watch=true stays a get (RequestInfoFactory turns only a nameless get into list/watch)", async () => {
    const res = await request(t, "GET", `${leasesPath(t.namespace, name)}?watch=true&timeoutSeconds=1`)
    expect(res.status).toBe(200)
    expect(res.json.kind).toBe("Lease")
    expect(res.json.metadata.name).toBe(name)
  })

  it("a POST with ?watch=true is a create, not a watch", async () => {
    const created = t.name("query-post")
    const res = await request(t, "POST", `${collection()}?watch=true`, lease(created))
    expect(res.status).toBe(201)
    expect(res.json.metadata.name).toBe(created)
  })

  it.skipIf(realCluster)("?allowWatchBookmarks=True brings BOOKMARK events, ?allowWatchBookmarks=FALSE none", async () => {
    const [on, off] = await Promise.all([get("watch=1&allowWatchBookmarks=True"), get("watch=1&allowWatchBookmarks=FALSE")])
    expect(answerKind(on.text)).toMatch(/^watch ADDED(,BOOKMARK)+$/)
    expect(answerKind(off.text)).toBe("watch ADDED")
  })

  it("?sendInitialEvents= (empty, so true) with resourceVersionMatch=NotOlderThan sends the current state", async () => {
    const res = await get("watch&sendInitialEvents=&resourceVersionMatch=NotOlderThan")
    expect(res.status).toBe(200)
    expect(answerKind(res.text)).toBe("watch ADDED")
  })

  it("?sendInitialEvents=false with no resourceVersion starts now, without the current state", async () => {
    const res = await get("watch&sendInitialEvents=false&resourceVersionMatch=NotOlderThan")
    expect(res.status).toBe(200)
    expect(res.text).toBe("")
  })
})

describe("integers: Convert_Slice_string_To_int64 / _Pointer_int64 (strconv.ParseInt, base 10, 64 bits; an error is a 400 BadRequest)", () => {
  it("?timeoutSeconds=abc on a watch is a 400 BadRequest Status", async () => {
    const res = await request(t, "GET", `${collection()}?watch=true&timeoutSeconds=abc`)
    expect(res.status).toBe(400)
    expect(res.json).toEqual(badRequest('strconv.ParseInt: parsing "abc": invalid syntax'))
  })

  it("?timeoutSeconds=abc on a list is a 400 BadRequest Status too (ListOptions are decoded whole)", async () => {
    const res = await request(t, "GET", `${collection()}?timeoutSeconds=abc`)
    expect(res.status).toBe(400)
    expect(res.json).toEqual(badRequest('strconv.ParseInt: parsing "abc": invalid syntax'))
  })

  it("?limit=x is a 400 BadRequest Status", async () => {
    const res = await request(t, "GET", `${collection()}?limit=x`)
    expect(res.status).toBe(400)
    expect(res.json).toEqual(badRequest('strconv.ParseInt: parsing "x": invalid syntax'))
  })

  it("an empty, fractional, spaced or out-of-range integer is refused as ParseInt refuses it", async () => {
    const cases: Array<[string, string]> = [
      ["limit=", 'strconv.ParseInt: parsing "": invalid syntax'],
      ["limit=1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax'],
      ["limit=%201", 'strconv.ParseInt: parsing " 1": invalid syntax'],
      ["limit=99999999999999999999", 'strconv.ParseInt: parsing "99999999999999999999": value out of range']
    ]
    for (const [query, message] of cases) {
      const res = await request(t, "GET", `${collection()}?${query}`)
      expect({ query, status: res.status, body: res.json }).toEqual({ query, status: 400, body: badRequest(message) })
    }
  })

  it("?limit=+1 is accepted (ParseInt takes a sign) and pages", async () => {
    const res = await request(t, "GET", `${collection()}?limit=%2B1`)
    expect(res.status).toBe(200)
    expect(res.json.items).toHaveLength(1)
  })

  it("?gracePeriodSeconds=soon on a delete is a 400 BadRequest Status and deletes nothing", async () => {
    const res = await request(t, "DELETE", `${leasesPath(t.namespace, name)}?gracePeriodSeconds=soon`)
    expect(res.status).toBe(400)
    expect(res.json).toEqual(badRequest('strconv.ParseInt: parsing "soon": invalid syntax'))
    expect((await request(t, "GET", leasesPath(t.namespace, name))).status).toBe(200)
  })
})

describe("ListOptions validation (ValidateListOptions: 422 Invalid ListOptions.meta.k8s.io)", () => {
  it("resourceVersionMatch without resourceVersion is forbidden on a list", async () => {
    const res = await request(t, "GET", `${collection()}?resourceVersionMatch=NotOlderThan`)
    expect(res.status).toBe(422)
    expect(res.json.message).toBe(
      'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided'
    )
  })

  it("an unknown resourceVersionMatch is unsupported on a list", async () => {
    const res = await request(t, "GET", `${collection()}?resourceVersion=1&resourceVersionMatch=Newest`)
    expect(res.status).toBe(422)
    expect(res.json.message).toBe(
      'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""'
    )
  })

  it("sendInitialEvents is forbidden on a list", async () => {
    const res = await request(t, "GET", `${collection()}?sendInitialEvents=true`)
    expect(res.status).toBe(422)
    expect(res.json.message).toBe('ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list')
  })

  it("resourceVersionMatch=NotOlderThan with a resourceVersion lists", async () => {
    const res = await request(t, "GET", `${collection()}?resourceVersion=0&resourceVersionMatch=NotOlderThan&labelSelector=suite%3Dquery`)
    expect(res.status).toBe(200)
    expect(res.json.items.map((l: { metadata: { name: string } }) => l.metadata.name)).toEqual([name])
  })

  it("continue with a resourceVersion is a 400 BadRequest", async () => {
    const page = await request(t, "GET", `${collection()}?limit=1`)
    const token = page.json.metadata.continue as string
    expect(token).toBeTruthy()
    const res = await request(t, "GET", `${collection()}?limit=1&continue=${encodeURIComponent(token)}&resourceVersion=1`)
    expect(res.status).toBe(400)
    expect(res.json.message).toBe("specifying resource version is not allowed when using continue")
  })

  it("a malformed labelSelector or an unsupported fieldSelector is a 400 BadRequest", async () => {
    expect((await request(t, "GET", `${collection()}?labelSelector=a%3D%3D%3Db`)).status).toBe(400)
    expect((await request(t, "GET", `${collection()}?fieldSelector=spec.holderIdentity%3Da`)).status).toBe(400)
  })
})

describe("write options (ValidateCreateOptions / ValidatePatchOptions / ValidateDeleteOptions: 422 Invalid)", () => {
  it("?dryRun=Bogus on a create is unsupported (only All) and creates nothing", async () => {
    const created = t.name("query-dry")
    const res = await request(t, "POST", `${collection()}?dryRun=Bogus`, lease(created))
    expect(res.status).toBe(422)
    expect(res.json.message).toBe('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Bogus"}: supported values: "All"')
    expect((await request(t, "GET", leasesPath(t.namespace, created))).status).toBe(404)
  })

  it("?dryRun=All on a create answers the object and stores nothing", async () => {
    const created = t.name("query-dry")
    const res = await request(t, "POST", `${collection()}?dryRun=All`, lease(created))
    expect(res.status).toBe(201)
    expect((await request(t, "GET", leasesPath(t.namespace, created))).status).toBe(404)
  })

  it("?fieldValidation is case-sensitive: strict is unsupported, Strict rejects unknown fields", async () => {
    const lower = await request(t, "POST", `${collection()}?fieldValidation=strict`, lease(t.name("query-fv")))
    expect(lower.status).toBe(422)
    expect(lower.json.message).toBe(
      'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"'
    )
    const strict = await request(t, "POST", `${collection()}?fieldValidation=Strict`, { ...lease(t.name("query-fv")), spec: { holder: "x" } })
    expect(strict.status).toBe(400)
    expect(strict.json.reason).toBe("BadRequest")
  })

  it("?fieldManager with a control character is invalid", async () => {
    const res = await request(t, "POST", `${collection()}?fieldManager=a%09b`, lease(t.name("query-fm")))
    expect(res.status).toBe(422)
    expect(res.json.message).toBe('CreateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "a\\tb": invalid character U+0009 (at position 1)')
  })

  it("an apply with ?fieldManager= (empty) lacks its required fieldManager", async () => {
    const res = await request(t, "PATCH", `${leasesPath(t.namespace, name)}?fieldManager=`, lease(name), {
      "content-type": "application/apply-patch+yaml"
    })
    expect(res.status).toBe(422)
    expect(res.json.message).toBe('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
  })

  it("?force=False on a merge patch is still a given force (*bool), forbidden for non-apply patches", async () => {
    const res = await request(t, "PATCH", `${leasesPath(t.namespace, name)}?force=False`, { spec: {} }, {
      "content-type": "application/merge-patch+json"
    })
    expect(res.status).toBe(422)
    expect(res.json.message).toBe('PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch')
  })

  it("?force (empty, so true) lets an apply take over a field another manager owns", async () => {
    const applied = t.name("query-force")
    const apply = (manager: string, holder: string, query = "") =>
      request(t, "PATCH", `${leasesPath(t.namespace, applied)}?fieldManager=${manager}${query}`, { ...lease(applied), spec: { holderIdentity: holder } }, {
        "content-type": "application/apply-patch+yaml"
      })
    expect((await apply("first", "a")).status).toBe(201)
    expect((await apply("second", "b")).status).toBe(409)
    const forced = await apply("second", "b", "&force")
    expect(forced.status).toBe(200)
    expect(forced.json.spec.holderIdentity).toBe("b")
  })

  it("?propagationPolicy must be Foreground, Background or Orphan; a valid one deletes", async () => {
    const doomed = t.name("query-del")
    await t.api.createNamespacedLease({ namespace: t.namespace, body: lease(doomed) })
    const bad = await request(t, "DELETE", `${leasesPath(t.namespace, doomed)}?propagationPolicy=Later`)
    expect(bad.status).toBe(422)
    expect(bad.json.message).toBe(
      'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Later": supported values: "Foreground", "Background", "Orphan", "nil"'
    )
    const both = await request(t, "DELETE", `${leasesPath(t.namespace, doomed)}?propagationPolicy=Orphan&orphanDependents=false`)
    expect(both.status).toBe(422)
    const ok = await request(t, "DELETE", `${leasesPath(t.namespace, doomed)}?propagationPolicy=Background&gracePeriodSeconds=0`)
    expect(ok.status).toBe(200)
    expect(ok.json.status).toBe("Success")
  })
})

describe("pretty: isPrettyPrint (strconv.ParseBool of a non-empty value, else curl/Wget/browser user agents)", () => {
  const path = () => leasesPath(t.namespace, name)
  it("?pretty=true and ?pretty=1 indent by two spaces", async () => {
    for (const query of ["pretty=true", "pretty=1", "pretty=T"]) {
      const res = await request(t, "GET", `${path()}?${query}`)
      expect(res.text).toBe(JSON.stringify(res.json, null, 2))
    }
  })

  it("?pretty=yes (not a ParseBool value) and ?pretty=false stay compact", async () => {
    for (const query of ["pretty=yes", "pretty=false"]) {
      const res = await request(t, "GET", `${path()}?${query}`, undefined, { "user-agent": "curl/8.0" })
      expect(res.text).toBe(`${JSON.stringify(res.json)}\n`)
    }
  })

  it("curl gets indented output without asking, other clients compact", async () => {
    const curl = await request(t, "GET", path(), undefined, { "user-agent": "curl/8.0" })
    expect(curl.text).toBe(JSON.stringify(curl.json, null, 2))
    const other = await request(t, "GET", path(), undefined, { "user-agent": "leasehold-test" })
    expect(other.text).toBe(`${JSON.stringify(other.json)}\n`)
  })
})
