/**
 * "Did you mean …?": the known name closest to a misspelt one (of three letters or more), for config keys,
 * commands and flags alike. The edit distance is @effect/cli's (already a dependency).
 */
import * as AutoCorrect from "@effect/cli/AutoCorrect"
import * as CliConfig from "@effect/cli/CliConfig"

const caseInsensitive = CliConfig.make({ isCaseSensitive: false })

/** Edit distance between two names, ignoring case. */
export const distance = (a: string, b: string): number => AutoCorrect.levensteinDistance(a, b, caseInsensitive)

/**
 * The candidate closest to `word`, when it is close enough to be a likely typo:
 * at most a third of the word's length in edits (and at least 1, at most 3).
 */
export const closest = (word: string, candidates: Iterable<string>): string | undefined => {
  if (word.length < 3) return undefined
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)))
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const d = candidate.toLowerCase().startsWith(word.toLowerCase()) && word.length >= 3 ? 1 : distance(word, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= limit ? best : undefined
}

/** "; did you mean X?" or "". */
export const didYouMean = (word: string, candidates: Iterable<string>, render: (name: string) => string = (name) => name): string => {
  const found = closest(word, candidates)
  return found === undefined ? "" : `; did you mean ${render(found)}?`
}
