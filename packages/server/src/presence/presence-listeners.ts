/**
 * {@link PresenceListeners}: the subscribers of a presence store, shared by the in-process store
 * and the scale-out one, so that both subscribe, deliver and report a throwing listener alike.
 * @module
 */
import type { PresenceEvent, PresenceListener } from './presence-store.js';

/** A store's subscribers: each `PresenceStore.subscribe` is one entry, in order of subscription. */
export class PresenceListeners {
  private readonly listeners = new Set<PresenceListener>();

  /**
   * Adds a listener; returns its unsubscribe. A wrapper per subscription, so that one function
   * subscribed twice hears everything twice and each unsubscribe removes its own.
   */
  add(listener: PresenceListener): () => void {
    const subscription: PresenceListener = (event) => listener(event);
    this.listeners.add(subscription);
    return () => {
      this.listeners.delete(subscription);
    };
  }

  /**
   * Hands an event to every listener subscribed now; one that throws goes to `onError` with the
   * event, and the others still hear it.
   */
  deliver(event: PresenceEvent, onError: (error: unknown, event: PresenceEvent) => void): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        onError(error, event);
      }
    }
  }

  /** Forgets every listener (the store closed). */
  clear(): void {
    this.listeners.clear();
  }
}
