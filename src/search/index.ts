/**
 * MLflow's filter and order_by language, once for every entity (the door to
 * `src/search/`): `grammar.ts` turns text into a typed syntax tree,
 * `compile.ts` turns it into SQL for SQLite or PostgreSQL through an entity's
 * {@link SearchTable}. The tables live with their domains (runs and
 * experiments in `tracking/search-tables.ts`, traces in
 * `tracking/traces/search-table.ts`, the registry's in
 * `registry/search-tables.ts`); this folder imports none of them.
 */
export {
  parseFilter,
  parseIdentifier,
  parseOrderBy,
  tokenize,
  type Comparator,
  type Comparison,
  type Identifier,
  type OrderTerm,
  type Prefixes,
  type Token,
  type Value,
} from "./grammar.js";
export {
  NULL_OPS,
  NUMERIC_OPS,
  SET_OPS,
  STRING_OPS,
  checkDistinct,
  clauseError,
  compileClauses,
  compileComparison,
  compileFilter,
  duplicateOrderFields,
  likeToGlob,
  stringComparison,
  unknownAttribute,
  type ClauseWriter,
  type CompiledClause,
  type Field,
  type SearchTable,
} from "./compile.js";
