// The public API's boundary: what each entry point exports at run time, snapshotted. Applications
// import `@switchboard/server`, backplane authors `@switchboard/server/scaleout`, tests
// `@switchboard/server/testing`. A change here is a change of the public API: update the list on
// purpose (and the changelog), never by accident.
import assert from 'node:assert/strict';
import test from 'node:test';

const snapshots: Record<string, string[]> = {
  '@switchboard/server': [
    'AuthenticationUnavailableError',
    'BackplaneError',
    'CLIENT_REQUEST_HEADERS',
    'CaseInsensitiveQuery',
    'ClientResultTracker',
    'CounterMetrics',
    'DefaultHubLifetimeManager',
    'DefaultPresenceStore',
    'Hub',
    'HubConnectionContext',
    'HubException',
    'HubServer',
    'InMemoryPresenceCluster',
    'LocalConnections',
    'NAME_IDENTIFIER_CLAIM',
    'OpenTelemetryHubMetrics',
    'PendingAcks',
    'RemoteInvocations',
    'SUPPORTED_TRANSPORTS',
    'SerializedHubMessage',
    'SwitchboardError',
    'TELEMETRY_SCOPE',
    'UNKNOWN_METHOD_LABEL',
    'backplaneErrors',
    'bearerToken',
    'buildErrorMessage',
    'clusterize',
    'createJsonLogger',
    'exceptionTypeName',
    'hubOptionDefaults',
    'jwtBearerAuthenticator',
    'liveMeter',
    'negotiateLimitDefaults',
    'noopMetrics',
    'parseUserAgent',
    'presenceDefaults',
    'rateLimitDefaults',
    'redactUrl',
    'scopedGroup',
    'serverErrors',
    'serverOptionDefaults',
    'signJwt',
    'silentLogger',
    'systemTimeProvider',
    'verifyJwt',
    'workerCount',
  ],
  '@switchboard/server/scaleout': [
    'ALL_CHANNEL',
    'BackplaneError',
    'BatchWriter',
    'ENVELOPE_VERSION',
    'EnvelopeVersionError',
    'InboxBroker',
    'InboxClient',
    'InboxLimits',
    'LimitBroker',
    'MemoryUserGroupState',
    'MemoryUserGroupStore',
    'PresenceStateMachine',
    'PublishQueue',
    'ScaleoutHubLifetimeManager',
    'ScaleoutPresenceStore',
    'backendError',
    'backplaneErrors',
    'backplanePresenceOptions',
    'channelName',
    'checkNumberOption',
    'clusterSharedLimits',
    'connectionChannel',
    'createBackplane',
    'decodeEnvelope',
    'encodeEnvelope',
    'envelopeMessage',
    'groupChannel',
    'inboxBackplane',
    'inboxNode',
    'lifetimeManagerWrapper',
    'messageFrames',
    'newBusCounters',
    'nodeChannel',
    'parseChannelName',
    'presenceErrorHandler',
    'presenceStoreWrapper',
    'remoteChangeOf',
    'replayWindow',
    'reportBusError',
    'userChannel',
    'waitUntil',
    'withTimeout',
  ],
  '@switchboard/server/testing': ['LoopbackNetwork', 'LoopbackPresenceNetwork', 'loopbackBackplane'],
  '@switchboard/backplane-redis': [
    'BackplaneError',
    'RedisBus',
    'RedisHubLifetimeManager',
    'RedisPresenceBackend',
    'RedisPresenceStore',
    'RedisUserGroupStore',
    'redisBackplane',
    'redisBusFactory',
  ],
  '@switchboard/backplane-postgres': [
    'PostgresBus',
    'PostgresHubLifetimeManager',
    'PostgresPresenceBackend',
    'PostgresPresenceStore',
    'PostgresUserGroupStore',
    'loadSqlFiles',
    'migrate',
    'postgresBackplane',
    'quoteIdent',
    'schemaFromPrefix',
    'sqlDir',
  ],
  '@switchboard/backplane-nats': [
    'NatsBus',
    'NatsLink',
    'NatsPresenceBackend',
    'NatsUserGroupStore',
    'channelSubject',
    'hubNames',
    'natsBackplane',
    'natsDefaults',
    'natsNode',
  ],
};

for (const [entry, expected] of Object.entries(snapshots)) {
  test(`${entry} exports exactly its snapshot`, async () => {
    const module = (await import(entry)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(module).sort(), [...expected].sort());
  });
}

test('the entry points share only the backplane errors', async () => {
  const [main, scaleout, testing] = await Promise.all(
    ['@switchboard/server', '@switchboard/server/scaleout', '@switchboard/server/testing'].map(
      async (entry) => Object.keys((await import(entry)) as object),
    ),
  );
  const shared = (a: string[], b: string[]) => a.filter((name) => b.includes(name)).sort();
  assert.deepEqual(shared(main!, scaleout!), ['BackplaneError', 'backplaneErrors']);
  assert.deepEqual(shared(main!, testing!), []);
  assert.deepEqual(shared(scaleout!, testing!), []);
});
