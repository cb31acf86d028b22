import Database from "better-sqlite3"
import * as fs from "node:fs"
import { schema } from "../src/sql/jobs.js"
import { schema as fencing } from "../src/sql/fencing.js"
const f = "/tmp/prof/raw.sqlite"; for (const s of ["", "-wal", "-shm"]) fs.rmSync(f + s, { force: true })
const db = new Database(f)
db.pragma("journal_mode = WAL"); db.pragma("synchronous = NORMAL")
db.exec(fencing); db.exec(process.env.SCHEMA ? fs.readFileSync(process.env.SCHEMA, "utf8") : schema)
db.exec("CREATE TABLE orch_write_lock (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO orch_write_lock VALUES (1,0)")
const lockId = Number(process.argv[2] ?? 1)
const lock = db.prepare(`UPDATE orch_write_lock SET n = n + 1 WHERE id = ${lockId}`)
const ins = db.prepare(`INSERT INTO orch_jobs (plugin, kind, state, payload, priority, run_at, attempts, max_attempts, idempotency_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT (plugin, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING *`)
const hist = db.prepare(`INSERT INTO orch_job_history (job_id, at, from_state, to_state, reason, owner, token) VALUES (?, ?, ?, ?, ?, ?, ?)`)
const sel = db.prepare(`SELECT * FROM orch_jobs WHERE plugin = ? AND kind = ? AND state IN (?) AND run_at <= ? AND (lease_token IS NULL OR lease_expires_at <= ?) ORDER BY priority DESC, run_at, id LIMIT ?`)
const tok = db.prepare(`INSERT INTO orch_fencing (domain, value) VALUES (?, 1) ON CONFLICT (domain) DO UPDATE SET value = orch_fencing.value + 1 RETURNING value`)
const grant = db.prepare(`UPDATE orch_jobs SET lease_owner = ?, lease_token = ?, lease_expires_at = ?, updated_at = ? WHERE id = ? RETURNING *`)
const done = db.prepare(`UPDATE orch_jobs SET state = ?, result = COALESCE(?, result), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ? AND state = ? AND lease_token = ? RETURNING *`)
const tx = <A>(f: () => A): A => { db.exec("BEGIN"); lock.run(); const a = f(); db.exec("COMMIT"); return a }
const N = 5000
const t = performance.now()
let enq = 0, left = N
while (left > 0) {
  for (let i = 0; i < 16 && enq < N; i++, enq++) tx(() => { const now = Date.now(); const r: any = ins.get("bench", "work", "queued", JSON.stringify({ n: enq, url: "https://example.com/" + enq }), 0, now, 5, null, now, now); hist.run(r.id, now, null, "queued", "enqueued", null, null) })
  const jobs = tx(() => { const now = Date.now(); return (sel.all("bench", "work", "queued", now, now, 16) as any[]).map((r) => { const token = (tok.get("jobs") as any).value; grant.get("w", token, now + 30000, now, r.id); return { ...r, token } }) })
  for (const j of jobs) { tx(() => { const now = Date.now(); done.get("succeeded", '{"ok":true}', now, j.id, "queued", j.token); hist.run(j.id, now, "queued", "succeeded", "done", "w", j.token) }); left-- }
}
console.log("raw better-sqlite3, same SQL, lock id", lockId, ":", (N / ((performance.now() - t) / 1000)).toFixed(0), "jobs/s")
