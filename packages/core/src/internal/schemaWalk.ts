/** Walking a config section's schema: its decoded side, and the struct inside an optional or a default. */
import type { SchemaAST } from "effect"

/** The decoded side of a schema's AST, where descriptions and nested structs live. */
export const typeSide = (ast: SchemaAST.AST): SchemaAST.AST => {
  switch (ast._tag) {
    case "Transformation":
      return typeSide(ast.to)
    case "Suspend":
      return typeSide(ast.f())
    default:
      return ast
  }
}

/** The struct a schema is (through transformations, and a union with undefined), if it is one. */
export const structOf = (ast: SchemaAST.AST): SchemaAST.TypeLiteral | undefined => {
  const side = typeSide(ast)
  if (side._tag === "TypeLiteral" && side.propertySignatures.length > 0) return side
  if (side._tag === "Union") {
    const structs = side.types.map(structOf).filter((s): s is SchemaAST.TypeLiteral => s !== undefined)
    return structs.length === 1 ? structs[0] : undefined
  }
  return undefined
}
