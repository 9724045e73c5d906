/**
 * The webhooks' part of the configuration: `WEBHOOK_URL` and `WEBHOOK_SECRET`, and the secrets'
 * format (Standard Webhooks: `whsec_` and the base64 of 24 to 64 random bytes).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { ChatError } from '../errors.js';

/** The id of the endpoint configured by `WEBHOOK_URL`. */
export const ENV_ENDPOINT_ID = 'env';

/** Why `secret` is not a Standard Webhooks secret, or undefined when it is one. */
export function webhookSecretProblem(secret: string): string | undefined {
  if (!secret.startsWith('whsec_')) return "must start with 'whsec_'";
  const body = secret.slice('whsec_'.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0)
    return "must be 'whsec_' followed by base64";
  const bytes = Buffer.from(body, 'base64').length;
  if (bytes < 24 || bytes > 64) return `must encode 24 to 64 bytes, got ${bytes}`;
  return undefined;
}

/** Why `url` cannot receive webhooks, or undefined when it can (an absolute http or https URL). */
export function webhookUrlProblem(url: string): string | undefined {
  if (!URL.canParse(url)) return 'must be an absolute URL';
  const { protocol } = new URL(url);
  if (protocol !== 'http:' && protocol !== 'https:') return 'must be an http or https URL';
  return undefined;
}

/** A new secret: `whsec_` and the base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Reads `WEBHOOK_URL` and `WEBHOOK_SECRET` (both or neither) through `text`; a malformed value is
 * a `SB_CHAT_CONFIG_INVALID` naming the variable.
 */
export function readWebhookConfig(text: (name: string) => string | undefined): {
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
} {
  const webhookUrl = text('WEBHOOK_URL');
  const webhookSecret = text('WEBHOOK_SECRET');
  const invalid = (name: string, reason: string) =>
    new ChatError('SB_CHAT_CONFIG_INVALID', `${name} ${reason}.`, { field: name });
  if (webhookUrl !== undefined) {
    const problem = webhookUrlProblem(webhookUrl);
    if (problem) throw invalid('WEBHOOK_URL', problem);
    if (webhookSecret === undefined) throw invalid('WEBHOOK_SECRET', 'is required with WEBHOOK_URL');
  }
  if (webhookSecret !== undefined) {
    const problem = webhookSecretProblem(webhookSecret);
    if (problem) throw invalid('WEBHOOK_SECRET', problem);
    if (webhookUrl === undefined) throw invalid('WEBHOOK_URL', 'is required with WEBHOOK_SECRET');
  }
  return { webhookUrl, webhookSecret };
}
