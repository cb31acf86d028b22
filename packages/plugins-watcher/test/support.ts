/** What the watcher's tests share: a self-signed certificate made by openssl. */
import { tempDir } from "@orch/testing"
import { execFileSync } from "node:child_process"
import { X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

/** A key and a certificate for 127.0.0.1 valid for `days`, with its notAfter in epoch ms. */
export const selfSignedCertificate = (days: number) => {
  const dir = tempDir("orch-watcher-cert-")
  const keyFile = path.join(dir, "key.pem")
  const certFile = path.join(dir, "cert.pem")
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyFile, "-out", certFile, "-days", String(days),
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"
  ], { stdio: "ignore" })
  const cert = fs.readFileSync(certFile, "utf8")
  return { key: fs.readFileSync(keyFile, "utf8"), cert, notAfter: Date.parse(new X509Certificate(cert).validTo) }
}
