import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { loadSqlFiles, migrate, schemaFromPrefix, sqlDir } from '../src/migrations.ts';
import { adminPool, dropSchema, PG_URL, requirePostgres, startNodes, uniquePrefix } from './helpers.ts';

test('schemaFromPrefix maps prefixes to valid lowercase identifiers', () => {
  assert.equal(schemaFromPrefix('switchboard:'), 'switchboard');
  assert.equal(
    schemaFromPrefix('sb-test-0F8c2e1a-1b2c-4d5e-8f90-123456789abc:'),
    'sb_test_0f8c2e1a_1b2c_4d5e_8f90_123456789abc',
  );
  assert.equal(schemaFromPrefix('1abc'), 'sb_1abc');
  assert.equal(schemaFromPrefix(':::'), 'sb');
  const long = schemaFromPrefix(`${'x'.repeat(100)}:`);
  assert.equal(long.length, 63);
  assert.notEqual(long, schemaFromPrefix(`${'x'.repeat(101)}:`));
  for (const name of [long, schemaFromPrefix('A b!c')]) assert.match(name, /^[a-z_][a-z0-9_]{0,62}$/);
});

test('loadSqlFiles reads NNN_name.sql in version order and refuses other .sql names', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-sql-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, '002_second.sql'), 'SELECT 2;');
  await writeFile(join(dir, '001_first.sql'), 'SELECT 1;');
  await writeFile(join(dir, 'README.md'), 'not sql');
  const url = pathToFileURL(`${dir}/`);
  assert.deepEqual(
    (await loadSqlFiles(url)).map((f) => [f.version, f.name, f.sql]),
    [
      [1, 'first', 'SELECT 1;'],
      [2, 'second', 'SELECT 2;'],
    ],
  );
  await writeFile(join(dir, 'bad name.sql'), 'SELECT 3;');
  await assert.rejects(loadSqlFiles(url), { code: 'SB_ERR_BACKPLANE_MIGRATION' });
  await rm(join(dir, 'bad name.sql'));
  await writeFile(join(dir, '0002_again.sql'), 'SELECT 3;');
  await assert.rejects(loadSqlFiles(url), /version 2/);
});

test('the bus migrations are found relative to the package', async () => {
  const files = await loadSqlFiles(sqlDir('bus'));
  assert.ok(files.length >= 1);
  assert.equal(files[0]!.version, 1);
});

test('two nodes migrating a fresh schema at once apply each file once; a second start is a no-op', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const schema = schemaFromPrefix(prefix);
  const admin = adminPool();
  const pools = [0, 1].map(() => new pg.Pool({ connectionString: PG_URL, max: 1 }));
  t.after(async () => {
    await dropSchema(admin, prefix);
    await Promise.all([admin, ...pools].map((p) => p.end()));
  });
  // Not idempotent on purpose: a second run of a file would fail (duplicate table) or add a row.
  const files = [
    { version: 1, name: 'table', sql: 'CREATE TABLE things (n int); CREATE TABLE runs (at timestamptz);' },
    { version: 2, name: 'row', sql: 'INSERT INTO runs VALUES (now());' },
  ];
  await Promise.all(pools.map((pool) => migrate(pool, { schema, component: 'test', files })));
  const count = async (sql: string) => Number((await admin.query(sql)).rows[0].n);
  assert.equal(await count(`SELECT count(*) AS n FROM ${schema}.runs`), 1);
  assert.equal(
    await count(`SELECT count(*) AS n FROM ${schema}.schema_migrations WHERE component = 'test'`),
    2,
  );
  await migrate(pools[0]!, { schema, component: 'test', files });
  assert.equal(await count(`SELECT count(*) AS n FROM ${schema}.runs`), 1);
  // A new file applies alone; another component counts its own versions.
  await migrate(pools[1]!, {
    schema,
    component: 'test',
    files: [...files, { version: 3, name: 'more', sql: 'INSERT INTO runs VALUES (now());' }],
  });
  await migrate(pools[1]!, { schema, component: 'other', files: [files[1]!] });
  assert.equal(await count(`SELECT count(*) AS n FROM ${schema}.runs`), 3);
});

test('a failing file leaves nothing behind and names the file', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const schema = schemaFromPrefix(prefix);
  const admin = adminPool();
  t.after(async () => {
    await dropSchema(admin, prefix);
    await admin.end();
  });
  const files = [
    { version: 1, name: 'ok', sql: 'CREATE TABLE a (n int);' },
    { version: 2, name: 'broken', sql: 'CREATE TABLE b (n nosuchtype);' },
  ];
  await assert.rejects(migrate(admin, { schema, component: 'test', files }), (error: Error) => {
    assert.equal((error as { code?: string }).code, 'SB_ERR_BACKPLANE_MIGRATION');
    assert.match(error.message, /002_broken\.sql/);
    return true;
  });
  const exists = await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  assert.equal(exists.rowCount, 0);
});

test('two lifetime managers starting at once on a fresh schema migrate the bus once; a restart applies nothing', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const schema = schemaFromPrefix(prefix);
  const admin = adminPool();
  const applied = async () =>
    (
      await admin.query<{ version: number; applied_at: Date }>(
        `SELECT version, applied_at FROM ${schema}.schema_migrations WHERE component = 'bus' ORDER BY version`,
      )
    ).rows.map((r) => `${r.version}@${r.applied_at.toISOString()}`);
  try {
    const files = await loadSqlFiles(sqlDir('bus'));
    const first = await startNodes(2, prefix);
    const once = await applied();
    assert.equal(once.length, files.length, 'each bus file once');
    await Promise.all(first.map((node) => node.close()));
    const again = await startNodes(2, prefix);
    await Promise.all(again.map((node) => node.close()));
    assert.deepEqual(await applied(), once, 'nothing applied again');
  } finally {
    await dropSchema(admin, prefix);
    await admin.end();
  }
});
