import { SwitchboardError } from '../errors.js';
import type { ArgumentSchema } from './argument-schema.js';
import type { AuthorizationRequirement } from './authorization.js';
import { type Hub, type HubClass, RESERVED_HUB_MEMBERS } from './hub.js';

/** Per-method options, declared on the hub class as `static methods = { name: {...} }`. */
export interface HubMethodOptions {
  /**
   * One schema per ordinary (non-stream) parameter. When given, the argument count must equal its
   * length (instead of the function's `length` minus the declared streams) and each argument is
   * validated, and transformed by schemas that do.
   */
  parameters?: readonly ArgumentSchema[];
  /** Who may call this method, on top of the hub's own requirement. */
  authorize?: AuthorizationRequirement;
  /**
   * A server-to-client streaming method: it returns an `AsyncIterable` whose items go to the client
   * as StreamItems (clients call it with `connection.stream(...)`). Async generator methods
   * (`async *ticks()`) are streaming without this; `false` is not allowed for them.
   */
  stream?: boolean;
  /**
   * The positions (0-based, among all the method's parameters) that receive client-to-server
   * streams, as `UploadStream`s, in the order of the invocation's `streamIds`. The other
   * parameters take the ordinary arguments in order. With this declared, a call must carry exactly
   * that many streams (`Client sent <n> stream(s), Hub method expects <m>.`).
   *
   * Without it, streams fill the parameters after the ordinary arguments: a method of `p`
   * parameters called with `n` arguments expects `p - n` streams (0 when `n = p`).
   *
   * @example
   * ```ts
   * class Files extends Hub {
   *   static methods = { save: { streams: [1] } };
   *   async save(name: string, chunks: UploadStream<string>, overwrite: boolean) { ... }
   * }
   * ```
   */
  streams?: readonly number[];
}

/** A hub class's static `methods` table. */
export type HubMethodsOptions = Readonly<Record<string, HubMethodOptions>>;

/** One callable hub method. */
export interface HubMethodDescriptor {
  /** The method's name as declared. */
  readonly name: string;
  /** The function, called with the hub instance as `this`. */
  readonly invoke: (this: Hub<object>, ...args: unknown[]) => unknown;
  /** How many parameters it takes, upload stream parameters included. */
  readonly parameterCount: number;
  /** Schemas of the ordinary (non-stream) parameters, if declared. */
  readonly parameters: readonly ArgumentSchema[] | undefined;
  /** The method's own authorization requirement. */
  readonly authorize: AuthorizationRequirement | undefined;
  /** Whether it streams its result (an async generator, or declared `stream: true`). */
  readonly stream: boolean;
  /** The declared positions of upload stream parameters, ascending; undefined when not declared. */
  readonly streams: readonly number[] | undefined;
}

/** The constructor of `async function*` functions, async generator methods included. */
const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as unknown;

/**
 * The callable methods of a hub class, found once when the hub is mapped: every function on the
 * prototype chain below {@link Hub} whose name does not start with `_`, looked up
 * case-insensitively (docs/protocol.md#method-names). Two methods whose names differ only in case are a
 * configuration error, as overloads are in the reference.
 */
export class HubDescriptor {
  private readonly methods = new Map<string, HubMethodDescriptor>();
  /** The same methods under their declared and lower-case names: a target sent as declared needs no lower-casing. */
  private readonly exact = new Map<string, HubMethodDescriptor>();

  constructor(hubClass: HubClass, hubBase: abstract new () => Hub<object>) {
    // Options are looked up ignoring case, as method names are: `AdminOnly: { authorize }` must
    // not be silently skipped for a method declared as `adminOnly`.
    const options = new Map<string, { name: string; options: HubMethodOptions }>();
    for (const [name, methodOptions] of Object.entries(
      (hubClass as unknown as { methods?: HubMethodsOptions }).methods ?? {},
    )) {
      const key = name.toLowerCase();
      if (options.has(key)) {
        throw new SwitchboardError(
          'SB_ERR_HUB_CONFIGURATION',
          `Hub '${hubClass.name}' declares options for '${options.get(key)!.name}' and '${name}'; hub method names are case-insensitive.`,
        );
      }
      options.set(key, { name, options: methodOptions });
    }
    const seen = new Set<string>();
    for (
      let proto = hubClass.prototype;
      proto && proto !== hubBase.prototype;
      proto = Object.getPrototypeOf(proto)
    ) {
      for (const name of Object.getOwnPropertyNames(proto)) {
        if (seen.has(name)) continue; // an override lower in the chain wins
        seen.add(name);
        const key = name.toLowerCase();
        if (name.startsWith('_') || RESERVED_HUB_MEMBERS.has(key)) continue;
        const property = Object.getOwnPropertyDescriptor(proto, name);
        if (!property || typeof property.value !== 'function') continue;
        if (this.methods.has(key)) {
          throw new SwitchboardError(
            'SB_ERR_HUB_CONFIGURATION',
            `Hub '${hubClass.name}' has two methods named '${this.methods.get(key)!.name}' and '${name}'; hub method names are case-insensitive.`,
          );
        }
        const methodOptions = options.get(key)?.options;
        const fn = property.value as (...args: unknown[]) => unknown;
        const generator = fn.constructor === AsyncGeneratorFunction;
        if (generator && methodOptions?.stream === false) {
          throw new SwitchboardError(
            'SB_ERR_HUB_CONFIGURATION',
            `Hub '${hubClass.name}' declares '${name}' non-streaming, but it is an async generator.`,
          );
        }
        const streams = methodOptions?.streams ? [...methodOptions.streams] : undefined;
        const parameterCount =
          methodOptions?.parameters !== undefined
            ? methodOptions.parameters.length + (streams?.length ?? 0)
            : fn.length;
        if (streams) checkStreamPositions(hubClass.name, name, streams, parameterCount);
        this.methods.set(key, {
          name,
          invoke: fn,
          parameterCount,
          parameters: methodOptions?.parameters,
          authorize: methodOptions?.authorize,
          stream: generator || methodOptions?.stream === true,
          streams,
        });
      }
    }
    for (const [key, method] of this.methods) {
      this.exact.set(key, method);
      this.exact.set(method.name, method);
    }
    for (const [key, { name }] of options) {
      if (!this.methods.has(key)) {
        throw new SwitchboardError(
          'SB_ERR_HUB_CONFIGURATION',
          `Hub '${hubClass.name}' declares options for '${name}', which is not one of its methods.`,
        );
      }
    }
  }

  /** The method a client's target names, ignoring case. */
  find(target: string): HubMethodDescriptor | undefined {
    return this.exact.get(target) ?? this.methods.get(target.toLowerCase());
  }

  /** The declared names of every method. */
  get methodNames(): string[] {
    return [...this.methods.values()].map((m) => m.name);
  }
}

/** Declared stream positions must be distinct integers within the method's parameters. */
function checkStreamPositions(hub: string, method: string, streams: number[], parameterCount: number): void {
  const distinct = new Set(streams);
  const valid =
    distinct.size === streams.length &&
    streams.every((p) => Number.isInteger(p) && p >= 0 && p < parameterCount);
  if (!valid) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      `Hub '${hub}' declares stream positions [${streams.join(', ')}] for '${method}', which takes ${parameterCount} parameter(s); positions must be distinct and within the parameters.`,
    );
  }
  streams.sort((a, b) => a - b);
}
