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

/** "Failed to invoke '<target>' due to an error on the server." (the reference's prefix). */
function failedText(target: string): string {
  return `Failed to invoke '${target}' due to an error on the server.`;
}

/**
 * Checks a call before it runs and returns its arguments, upload streams in place, or throws
 * {@link InvocationRejected}. The order of the checks is the reference's: argument count (its
 * parser's binding), authorization, invoke-versus-stream, stream count, then our schemas.
 *
 * Synchronous (it returns the array or throws) unless the method has an authorization policy or
 * argument schemas, which may be asynchronous: then a promise that rejects instead of throwing.
 * The common call, with neither, costs no promise.
 */
export function bindArguments(
  connection: HubCallerContext,
  message: InvocationMessage | StreamInvocationMessage,
  method: HubMethodDescriptor | undefined,
  streaming: boolean,
  uploads: readonly UploadStream[],
  detailedErrors: boolean,
): unknown[] | Promise<unknown[]> {
  const target = message.target;
  if (!method) {
    throw new InvocationRejected(
      'SB_ERR_UNKNOWN_METHOD',
      `${failedText(target)} HubException: Method does not exist.`,
    );
  }
  const args = message.arguments;
  const sent = message.streamIds?.length ?? 0;
  const total = method.parameterCount;
  // Where the streams go: the declared positions, or else the parameters after the arguments.
  let positions: readonly number[];
  if (method.streams) positions = method.streams;
  else if (sent > 0 && args.length <= total) positions = range(args.length, total);
  else positions = NONE;
  const ordinary = total - positions.length;
  if (args.length !== ordinary) {
    const failed = failedText(target);
    const detail = ` InvalidDataException: Invocation provides ${args.length} argument(s) but target expects ${ordinary}.`;
    throw new InvocationRejected('SB_ERR_ARGUMENT_COUNT', detailedErrors ? failed + detail : failed);
  }
  const call: BindingCall = { message, method, streaming, uploads, detailedErrors, positions };
  if (method.authorize !== undefined) {
    return authorize(method.authorize, connection.user).then((verdict) => {
      if (verdict !== 'ok') {
        throw new InvocationRejected(
          'SB_ERR_FORBIDDEN',
          `Failed to invoke '${target}' because user is unauthorized`,
        );
      }
      return afterAuthorization(call);
    });
  }
  return afterAuthorization(call);
}

/** What the checks after authorization need. */
interface BindingCall {
  readonly message: InvocationMessage | StreamInvocationMessage;
  readonly method: HubMethodDescriptor;
  readonly streaming: boolean;
  readonly uploads: readonly UploadStream[];
  readonly detailedErrors: boolean;
  readonly positions: readonly number[];
}

const NONE: readonly number[] = [];

/** Invoke-versus-stream, stream count, then the schemas (asynchronous only when there are some). */
function afterAuthorization(call: BindingCall): unknown[] | Promise<unknown[]> {
  const { message, method, positions } = call;
  const target = message.target;
  if (method.stream !== call.streaming) {
    throw new InvocationRejected(
      'SB_ERR_STREAM_MODE_MISMATCH',
      method.stream
        ? `The client attempted to invoke the streaming '${target}' method with a non-streaming invocation.`
        : `The client attempted to invoke the non-streaming '${target}' method with a streaming invocation.`,
    );
  }
  const sent = message.streamIds?.length ?? 0;
  if (sent !== positions.length) {
    throw new InvocationRejected(
      'SB_ERR_STREAM_COUNT_MISMATCH',
      `An unexpected error occurred invoking '${target}' on the server. HubException: Client sent ${sent} stream(s), Hub method expects ${positions.length}.`,
    );
  }
  if (method.parameters) return validateAll(call).then((bound) => placeUploads(call, bound));
  return placeUploads(call, message.arguments);
}

/** Runs every argument through its schema, in order; the first failure rejects the call. */
async function validateAll(call: BindingCall): Promise<unknown[]> {
  const { message, method, detailedErrors } = call;
  const args = message.arguments;
  const parameters = method.parameters!;
  const bound = new Array<unknown>(args.length);
  for (let i = 0; i < args.length; i++) {
    let check: ArgumentCheck;
    try {
      check = await validateArgument(parameters[i]!, args[i]);
    } catch (error) {
      // A schema that throws is a binding failure (a HubException's message is shown).
      throw new InvocationRejected(
        'SB_ERR_INVALID_ARGUMENT',
        buildErrorMessage(failedText(message.target), error, detailedErrors),
      );
    }
    if (!check.ok) {
      throw new InvocationRejected(
        'SB_ERR_INVALID_ARGUMENT',
        `${failedText(message.target)} HubException: Invalid argument ${i + 1}: ${check.error}`,
      );
    }
    bound[i] = check.value;
  }
  return bound;
}

/** The arguments with the upload streams put in their parameters' places. */
function placeUploads(call: BindingCall, bound: readonly unknown[]): unknown[] {
  const { positions, uploads } = call;
  if (positions.length === 0) return bound as unknown[];
  const total = call.method.parameterCount;
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
