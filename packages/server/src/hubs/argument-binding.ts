/**
 * Argument binding of a hub method call: the reference's checks before a method runs (argument
 * count, authorization, invoke versus stream, stream count) and our argument schemas, with upload
 * streams put in their parameters' places.
 * @module
 */
import type { InvocationMessage, StreamInvocationMessage } from '@switchboard/protocol';
import { buildErrorMessage, type ServerErrorCode } from '../errors.js';
import { type ArgumentCheck, validateArgument } from './argument-schema.js';
import { authorize } from './authorization.js';
import type { HubCallerContext } from './hub-caller-context.js';
import type { HubMethodDescriptor } from './hub-descriptor.js';
import type { UploadStream } from './upload-stream.js';

/** A failure found before the method runs: the Completion text and the catalogue code. */
export class InvocationRejected extends Error {
  constructor(
    readonly code: ServerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks a call before it runs and returns its arguments, upload streams in place, or throws
 * {@link InvocationRejected}. The order of the checks is the reference's: argument count (its
 * parser's binding), authorization, invoke-versus-stream, stream count, then our schemas.
 */
export async function bindArguments(
  connection: HubCallerContext,
  message: InvocationMessage | StreamInvocationMessage,
  method: HubMethodDescriptor | undefined,
  streaming: boolean,
  uploads: readonly UploadStream[],
  detailedErrors: boolean,
): Promise<unknown[]> {
  const target = message.target;
  const failed = `Failed to invoke '${target}' due to an error on the server.`;
  if (!method) {
    throw new InvocationRejected('SB_ERR_UNKNOWN_METHOD', `${failed} HubException: Method does not exist.`);
  }
  const args = message.arguments;
  const sent = message.streamIds?.length ?? 0;
  const total = method.parameterCount;
  // Where the streams go: the declared positions, or else the parameters after the arguments.
  let positions: readonly number[];
  if (method.streams) positions = method.streams;
  else if (sent > 0 && args.length <= total) positions = range(args.length, total);
  else positions = [];
  const ordinary = total - positions.length;
  if (args.length !== ordinary) {
    const detail = ` InvalidDataException: Invocation provides ${args.length} argument(s) but target expects ${ordinary}.`;
    throw new InvocationRejected('SB_ERR_ARGUMENT_COUNT', detailedErrors ? failed + detail : failed);
  }
  if (method.authorize !== undefined && (await authorize(method.authorize, connection.user)) !== 'ok') {
    throw new InvocationRejected(
      'SB_ERR_FORBIDDEN',
      `Failed to invoke '${target}' because user is unauthorized`,
    );
  }
  if (method.stream !== streaming) {
    throw new InvocationRejected(
      'SB_ERR_STREAM_MODE_MISMATCH',
      method.stream
        ? `The client attempted to invoke the streaming '${target}' method with a non-streaming invocation.`
        : `The client attempted to invoke the non-streaming '${target}' method with a streaming invocation.`,
    );
  }
  if (sent !== positions.length) {
    throw new InvocationRejected(
      'SB_ERR_STREAM_COUNT_MISMATCH',
      `An unexpected error occurred invoking '${target}' on the server. HubException: Client sent ${sent} stream(s), Hub method expects ${positions.length}.`,
    );
  }
  let bound = args;
  if (method.parameters) {
    bound = new Array<unknown>(args.length);
    for (let i = 0; i < args.length; i++) {
      let check: ArgumentCheck;
      try {
        check = await validateArgument(method.parameters[i]!, args[i]);
      } catch (error) {
        // A schema that throws is a binding failure (a HubException's message is shown).
        throw new InvocationRejected(
          'SB_ERR_INVALID_ARGUMENT',
          buildErrorMessage(failed, error, detailedErrors),
        );
      }
      if (!check.ok) {
        throw new InvocationRejected(
          'SB_ERR_INVALID_ARGUMENT',
          `${failed} HubException: Invalid argument ${i + 1}: ${check.error}`,
        );
      }
      bound[i] = check.value;
    }
  }
  if (positions.length === 0) return bound;
  const full = new Array<unknown>(total);
  let next = 0;
  for (let p = 0, s = 0; p < total; p++) {
    if (positions[s] === p) full[p] = uploads[s++];
    else full[p] = bound[next++];
  }
  return full;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
