/** What a fixture process (see `Fixture.bundleFixture`) uses to talk to the test that started it. */
import * as readline from "node:readline"

/**
 * In a fixture process: resolves when the parent writes the line `go` on stdin, so that
 * processes started one after another begin their work together.
 */
export const waitForGo = (): Promise<void> =>
  new Promise<void>((resolve) => {
    const lines = readline.createInterface({ input: process.stdin })
    lines.on("line", (line) => {
      if (line.trim() === "go") {
        lines.close()
        resolve()
      }
    })
  })
