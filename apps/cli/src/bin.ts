/**
 * The bundle's entry (`bin/orch.mjs` runs it). The command tree and the plugins load
 * here; only commands that need it load the runtime.
 */
const [{ main }, { plugins }] = await Promise.all([import("./main.js"), import("./plugins.js")])
main(plugins, process.argv)
