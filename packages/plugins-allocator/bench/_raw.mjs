// The allocator benchmark's reference servers (a helper, not a benchmark): what plain
// `node:http` costs on this machine, with nothing of orch's. One process, two ports:
// - keepalive: POST /allocator/leases/:id/keepalive reads and parses the JSON body and
//   commits one better-sqlite3 UPDATE of a row shaped like orch's leases (autocommit: one
//   commit per request), SQLite set up as orch's (WAL, synchronous=NORMAL, busy timeout);
// - healthz: GET /healthz answers {"status":"ok"} from memory.
// Prints one JSON line with both ports and the lease ids, then serves until killed.
import Database from "better-sqlite3"
import * as http from "node:http"

const [file, count] = [process.argv[2], Number(process.argv[3] ?? 64)]
const db = new Database(file)
db.pragma("journal_mode = WAL")
db.pragma("synchronous = NORMAL")
db.pragma("busy_timeout = 10000")
db.exec(`CREATE TABLE IF NOT EXISTS leases (
  id TEXT PRIMARY KEY, plugin TEXT NOT NULL, kind TEXT NOT NULL, resource TEXT NOT NULL, holder TEXT NOT NULL,
  token BIGINT NOT NULL UNIQUE, granted_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, ended_at BIGINT, end_reason TEXT)`)
const ids = Array.from({ length: count }, (_, i) => `raw-lease-${i}`)
const insert = db.prepare("INSERT OR REPLACE INTO leases VALUES (?, 'allocator', 'device', ?, ?, ?, ?, ?, NULL, NULL)")
const now = Date.now()
ids.forEach((id, i) => insert.run(id, `board-${i}`, `bench-${i}`, i + 1, now, now + 3_600_000))
const extend = db.prepare("UPDATE leases SET expires_at = ? WHERE id = ? AND ended_at IS NULL AND expires_at > ? RETURNING id")

const send = (res, status, body) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const keepalive = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  const match = /^\/allocator\/leases\/([^/?]+)\/keepalive/.exec(req.url ?? "")
  if (req.method !== "POST" || match === null) return send(res, 404, { error: "no route" })
  const chunks = []
  req.on("data", (chunk) => chunks.push(chunk))
  req.on("end", () => {
    let body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}")
    } catch {
      return send(res, 400, { error: "the body is not JSON" })
    }
    const at = Date.now()
    const expiresAt = at + (typeof body.ttlSeconds === "number" ? body.ttlSeconds : 3600) * 1000
    const row = extend.get(expiresAt, match[1], at)
    if (row === undefined) return send(res, 410, { error: "lease gone" })
    send(res, 200, { id: match[1], expiresAt: new Date(expiresAt).toISOString() })
  })
})

const healthz = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => send(res, 200, { status: "ok" }))

const listening = (server) => new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)))
const [keepalivePort, healthzPort] = await Promise.all([listening(keepalive), listening(healthz)])
process.stdout.write(JSON.stringify({ keepalivePort, healthzPort, ids }) + "\n")
