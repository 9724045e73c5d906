/**
 * Turns the domain's refusals into `HubException`s whose message starts with the stable code
 * (`SB_CHAT_FORBIDDEN: ...`), counts them, and logs unexpected failures (whose details the server
 * keeps from the client).
 * @module
 */
import { HubException, type HubFilter, type Logger } from '@switchboard/server';
import type { ChatCounters } from '../domain/ports.js';
import { ChatError } from '../errors.js';

/** The hub filter of the chat. */
export function chatErrorFilter(counters: ChatCounters, logger: Logger): HubFilter {
  return {
    async invokeMethod(invocation, next) {
      try {
        return await next(invocation);
      } catch (error) {
        if (error instanceof ChatError) {
          counters.refusals.set(error.code, (counters.refusals.get(error.code) ?? 0) + 1);
          throw new HubException(`${error.code}: ${error.message}`);
        }
        logger.error('chat.invocation.failed', { method: invocation.methodName, error });
        throw error;
      }
    },
  };
}
