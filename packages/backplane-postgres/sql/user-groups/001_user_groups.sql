-- The user-group memberships of the scale-out core (PostgresUserGroupStore): one row per
-- membership, with its expiry in milliseconds. `if not exists`: a schema may hold the table from
-- before it was a migration.
create table if not exists user_groups (
  scope text not null,
  user_id text not null,
  group_name text not null,
  expires_at bigint not null,
  primary key (scope, user_id, group_name)
);
