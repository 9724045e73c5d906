/**
 * What the shared limits say over a worker's IPC channel (limit-broker.ts in the primary,
 * shared-limits.ts in the workers). Every message carries `sbLimits`, so that the in-box bus's
 * and the application's own messages on the same channel pass by untouched.
 * @module
 */
import type { CappedKey } from './shared-limits.js';

/** Worker to primary. Requests with an `id` get one reply. */
export type LimitsRequest =
  | { readonly sbLimits: 'acquire'; readonly id: number; readonly keys: readonly CappedKey[] }
  | { readonly sbLimits: 'release'; readonly keys: readonly string[] }
  | {
      readonly sbLimits: 'take';
      readonly id: number;
      readonly key: string;
      readonly perSecond: number;
      readonly burst: number;
    }
  | { readonly sbLimits: 'hold'; readonly key: string; readonly delta: number };

/** Primary to worker. */
export type LimitsPush =
  | { readonly sbLimits: 'reply'; readonly id: number; readonly value: unknown }
  | { readonly sbLimits: 'share'; readonly key: string; readonly share: number };

/** Whether an IPC message is one of the shared limits'. */
export function isLimitsMessage(message: unknown): message is LimitsRequest | LimitsPush {
  return typeof message === 'object' && message !== null && 'sbLimits' in message;
}
