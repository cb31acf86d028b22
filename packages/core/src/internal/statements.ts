/**
 * Running the queue's statements cheaply inside a transaction, and cutting batches into
 * statements of a bounded size.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import { Effect, Option } from "effect"

/**
 * Rows per multi-row statement: a batch this size already shares its statement's fixed
 * cost a hundred ways, and `transitionJobs` looks each row up in CASE lists as long as
 * the batch, so its cost grows with the square of this.
 */
export const maxRowsPerStatement = 100

export const chunksOf = <A>(all: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  if (all.length <= size) return [all]
  const chunks: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < all.length; i += size) chunks.push(all.slice(i, i + size))
  return chunks
}

/**
 * Runs a statement on the connection of the transaction in progress, without the span
 * and scope `SqlClient` opens per statement: they cost more than the queue's statements
 * themselves (about 25 µs against 10). Outside a transaction it runs as usual.
 */
export const rows = <A extends object>(statement: Statement.Statement<A>): Effect.Effect<ReadonlyArray<A>, SqlError> =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) => {
    if (Option.isNone(transaction)) return statement
    const [text, params] = statement.compile()
    return transaction.value[0].execute(text, params, undefined) as Effect.Effect<ReadonlyArray<A>, SqlError>
  })

export const first = <A extends object>(statement: Statement.Statement<A>): Effect.Effect<A | undefined, SqlError> =>
  Effect.map(rows(statement), (all) => all[0])
