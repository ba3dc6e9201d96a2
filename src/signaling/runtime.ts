/**
 * The parts of the browser runtime that the library layers take injected, so that tests drive them
 * with fakes: the clock and timers, and the shape of a DOM-style event handler slot.
 */

/** Cancels what `Scheduler.after` scheduled; calling it twice is harmless. */
export type Cancel = () => void;

/** Time and timers. `now` is in milliseconds, like `Date.now()`. */
export interface Scheduler {
  now(): number;
  after(ms: number, callback: () => void): Cancel;
}

/** The page's own clock and timers. */
export const realScheduler: Scheduler = {
  now: () => Date.now(),
  after: (ms, callback) => {
    const handle = globalThis.setTimeout(callback, ms);
    return () => globalThis.clearTimeout(handle);
  }
};

/**
 * An `on<event>` handler slot such as `WebSocket.onmessage`, declared as a method so that its
 * parameter is checked bivariantly: the real DOM objects (whose handlers take full `Event`
 * subclasses) then fit interfaces that name only the event fields this code reads, and test fakes
 * need to provide nothing more.
 */
export type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];
