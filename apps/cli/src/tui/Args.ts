/**
 * The arguments of `orch tui` that the TUI's light entry serves by itself: `--once`,
 * `--view`, `--url` and `--token`, each at most once, with the daemon's address from
 * --url, else $ORCH_URL, else core.http's default when no `./orch.yaml` is there to say
 * otherwise. Anything else (--help, a config file, --config, --set, --log-*, a typo) is
 * the full CLI's to parse, validate and explain, exactly as before.
 */

export interface TuiArgs {
  readonly _tag: "Tui"
  readonly once: boolean
  readonly view: string | undefined
  readonly url: string
  readonly token: string | undefined
}

/** Not one of the light entry's: the full CLI parses these arguments. */
export interface FullCli {
  readonly _tag: "FullCli"
  readonly why: string
}

/** core.http's defaults (host 127.0.0.1, port 7600), as `Cli.daemonUrl` makes them an address. */
export const defaultUrl = "http://127.0.0.1:7600"

const valued = ["url", "token", "view"] as const
type Valued = typeof valued[number]

/**
 * `args`: what follows `tui`. `configFileExists`: whether `./orch.yaml` exists (the full
 * CLI reads and validates it, and core.http in it may place the daemon elsewhere).
 */
export const parse = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  configFileExists: boolean
): TuiArgs | FullCli => {
  const full = (why: string): FullCli => ({ _tag: "FullCli", why })
  let once = false
  const values: Partial<Record<Valued, string>> = {}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--once") {
      if (once) return full("--once twice")
      once = true
      continue
    }
    const match = /^--([a-z]+)(?:=(.*))?$/s.exec(arg)
    const name = valued.find((option) => option === match?.[1])
    if (match === null || name === undefined) return full(`${arg} is not one of --once, --view, --url, --token`)
    if (values[name] !== undefined) return full(`--${name} twice`)
    const value = match[2] ?? args[++i]
    // a missing, empty or flag-like value: the full CLI says what is wrong with it
    if (value === undefined || value === "" || (match[2] === undefined && value.startsWith("-"))) return full(`--${name} without a value`)
    values[name] = value
  }
  if (configFileExists) return full("./orch.yaml exists")
  const token = values.token ?? (env.ORCH_TOKEN || undefined)
  return { _tag: "Tui", once, view: values.view, url: (values.url ?? (env.ORCH_URL || defaultUrl)).replace(/\/+$/, ""), token }
}
