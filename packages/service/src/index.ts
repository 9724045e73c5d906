/**
 * @switchboard/service: `switchboard serve`, a self-hosted service compatible with Azure SignalR
 * Service's data-plane REST API (api-version 2022-06-01) and upstream webhooks, built on
 * `@switchboard/server`. See the package README for the routes, the upstream protocol and the
 * configuration.
 *
 * @example
 * ```ts
 * import { resolveConfig, SwitchboardService } from '@switchboard/service';
 *
 * const service = new SwitchboardService(resolveConfig({ hubs: ['chat'], accessKey: 'secret', port: 8080 }));
 * const { url } = await service.start();
 * console.log(`Now listening on: ${url}`);
 * ```
 * @module
 */
export { HELP, loadConfig, main } from './cli.js';
export { Cluster, type ClusterOptions, CONTROL_HUB_PATH } from './cluster.js';
export {
  type ConfigFile,
  configFileSchema,
  HUB_NAME_PATTERN,
  type HubConfig,
  limitDefaults,
  parseConfigFile,
  resolveConfig,
  type ServiceConfig,
} from './config.js';
export { ServiceError, type ServiceErrorCode, serviceErrors } from './errors.js';
export { type ClusterCommand, LocalRegistry } from './registry.js';
export { API_VERSIONS, handleRestRequest, type RestApiOptions } from './rest-api.js';
export { type ServiceAddress, SwitchboardService, type SwitchboardServiceOptions } from './service.js';
export { type HubRuntime, ServiceHub } from './service-hub.js';
export { AccessKeys, bearerOf, type TokenCheck, userIdOf } from './tokens.js';
export {
  expandTemplate,
  type UpstreamCategory,
  UpstreamClient,
  type UpstreamClientOptions,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
  upstreamSignature,
} from './upstream.js';
export {
  serviceJsonProtocol,
  serviceMessagePackProtocol,
  serviceProtocols,
  UPSTREAM_METHOD,
  UpstreamHubProtocol,
} from './upstream-protocol.js';
