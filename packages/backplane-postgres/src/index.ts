/**
 * @switchboard/backplane-postgres: Switchboard scale-out on PostgreSQL. Schema migrations shared by
 * the bus and presence ({@link migrate}, {@link loadSqlFiles}, {@link schemaFromPrefix}); see
 * docs/scale-out.md.
 * @module
 */
export {
  type BackplanePostgresErrorCode,
  backplanePostgresErrors,
  PostgresBackplaneError,
} from './errors.js';
export {
  loadSqlFiles,
  type MigrateOptions,
  migrate,
  quoteIdent,
  type SqlFile,
  schemaFromPrefix,
  sqlDir,
} from './migrations.js';
