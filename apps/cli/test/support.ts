/** The CLI's own test support: `orch` built with the demo plugin of test/fixtures. The rest is in @orch/testing. */
import { fileURLToPath } from "node:url"

/** `orch` with the demo plugin of test/fixtures. */
export const demoBin = fileURLToPath(new URL("../dist/test/orch-demo.mjs", import.meta.url))
