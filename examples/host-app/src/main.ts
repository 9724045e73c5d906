/**
 * Starts the example host app from environment variables (see the README):
 *
 *   CHAT_URL=http://localhost:3000 CHAT_API_KEY=sbk_… CHAT_WEBHOOK_SECRET=whsec_… \
 *     npm start -w examples/host-app
 * @module
 */

import { startHostApp } from './app.ts';
import { HostConfigError, loadHostConfig } from './config.ts';

let config: ReturnType<typeof loadHostConfig>;
try {
  config = loadHostConfig(process.env);
} catch (error) {
  if (!(error instanceof HostConfigError)) throw error;
  console.error(`host app: ${error.message}`);
  process.exit(2);
}

const running = await startHostApp(config, config.port, process.env.HOST ? { host: process.env.HOST } : {});
console.log(`host app: ${config.publicUrl} (issuer of the chat tokens; JWKS at /.well-known/jwks.json)`);
console.log(
  `host app: chat at ${config.chatUrl}; server API ${config.chatApiKey ? 'key set' : 'key NOT set'}; webhooks ${
    config.webhookSecret ? `at ${config.publicUrl}/webhooks` : 'off (no CHAT_WEBHOOK_SECRET)'
  }`,
);
console.log(
  `host app: sign in as ${running.directory
    .users()
    .map((u) => `${u.username} (${u.role})`)
    .join(', ')} with the password ${config.demoPassword}`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    running.close().then(() => process.exit(0));
  });
}
