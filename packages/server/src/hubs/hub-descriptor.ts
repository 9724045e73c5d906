import { SwitchboardError } from '../errors.js';
import type { ArgumentSchema } from './argument-schema.js';
import type { AuthorizationRequirement } from './authorization.js';
import { type Hub, type HubClass, RESERVED_HUB_MEMBERS } from './hub.js';

/** Per-method options, declared on the hub class as `static methods = { name: {...} }`. */
export interface HubMethodOptions {
  /**
   * One schema per parameter. When given, the argument count must equal its length (instead of
   * the function's `length`) and each argument is validated, and transformed by schemas that do.
   */
  parameters?: readonly ArgumentSchema[];
  /** Who may call this method, on top of the hub's own requirement. */
  authorize?: AuthorizationRequirement;
}

/** A hub class's static `methods` table. */
export type HubMethodsOptions = Readonly<Record<string, HubMethodOptions>>;

/** One callable hub method. */
export interface HubMethodDescriptor {
  /** The method's name as declared. */
  readonly name: string;
  /** The function, called with the hub instance as `this`. */
  readonly invoke: (this: Hub<object>, ...args: unknown[]) => unknown;
  /** How many arguments it takes. */
  readonly parameterCount: number;
  /** Argument schemas, if declared. */
  readonly parameters: readonly ArgumentSchema[] | undefined;
  /** The method's own authorization requirement. */
  readonly authorize: AuthorizationRequirement | undefined;
}

/**
 * The callable methods of a hub class, found once when the hub is mapped: every function on the
 * prototype chain below {@link Hub} whose name does not start with `_`, looked up
 * case-insensitively (signalr-protocol.md 13.4). Two methods whose names differ only in case are a
 * configuration error, as overloads are in the reference.
 */
export class HubDescriptor {
  private readonly methods = new Map<string, HubMethodDescriptor>();

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
        this.methods.set(key, {
          name,
          invoke: property.value,
          parameterCount: methodOptions?.parameters?.length ?? property.value.length,
          parameters: methodOptions?.parameters,
          authorize: methodOptions?.authorize,
        });
      }
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
    return this.methods.get(target.toLowerCase());
  }

  /** The declared names of every method. */
  get methodNames(): string[] {
    return [...this.methods.values()].map((m) => m.name);
  }
}
