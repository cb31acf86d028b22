import { defineConfig } from "vitest/config"

// One run over every workspace: tests live in each package's test/ folder.
export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    globalSetup: ["apps/cli/test/globalSetup.ts"],
    reporters: ["default", "./vitest.summary.ts"]
  }
})
