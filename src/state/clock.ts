/**
 * Server time in the browser: the offset of the server's clock from this one, and the interview
 * timer's arithmetic on top of it. Pure functions plus one small class; no timers of its own.
 */

import { TimerPayload, WelcomePayload } from '../signaling/events';

/** The timer as the server last described it (`welcome.timer`, or a `timer` event). */
export type TimerSnapshot = NonNullable<WelcomePayload['timer']>;

/** The last five minutes, when the timer turns red. */
export const LAST_MINUTES_S = 5 * 60;

/** A `timer` event's payload as a snapshot; null when it lacks the state fields. */
export function timerFromPayload(payload: TimerPayload): TimerSnapshot | null {
  const { status, duration_s, elapsed_s, server_now } = payload;
  if (
    status === undefined ||
    duration_s === undefined ||
    elapsed_s === undefined ||
    server_now === undefined
  ) {
    return null;
  }
  return {
    status,
    duration_s,
    elapsed_s,
    started_at: payload.started_at ?? null,
    ends_at: payload.ends_at ?? null,
    server_now
  };
}

/**
 * Seconds left at server time `serverNow`.
 *
 * The server's `elapsed_s` is the time run up to its `server_now` (the current run included), so
 * while running the time left is `duration_s - elapsed_s - (serverNow - server_now)`, which is
 * `ends_at - serverNow`. (Subtracting `serverNow - started_at` as well would count the current run
 * twice.) Paused and idle timers do not move; an expired one has nothing left.
 */
export function remainingSeconds(timer: TimerSnapshot, serverNow: number): number {
  switch (timer.status) {
    case 'running': {
      const left =
        typeof timer.ends_at === 'number'
          ? timer.ends_at - serverNow
          : timer.duration_s - timer.elapsed_s - Math.max(0, serverNow - timer.server_now);
      return clamp(left, 0, timer.duration_s);
    }
    case 'paused':
    case 'idle':
      return Math.max(0, timer.duration_s - timer.elapsed_s);
    case 'expired':
      return 0;
  }
}

/** Whether the timer should show red: started, time left, and at most five minutes of it. */
export function isLastMinutes(
  timer: TimerSnapshot,
  serverNow: number,
  window_s: number = LAST_MINUTES_S
): boolean {
  if (timer.status !== 'running' && timer.status !== 'paused') {
    return false;
  }
  const left = remainingSeconds(timer, serverNow);
  return left > 0 && left <= window_s;
}

/**
 * Whether time is up: expired, or running with nothing left (the server's `expired` event is on
 * its way).
 */
export function isTimeUp(timer: TimerSnapshot, serverNow: number): boolean {
  return (
    timer.status === 'expired' ||
    (timer.status === 'running' && remainingSeconds(timer, serverNow) <= 0)
  );
}

/** `m:ss`, or `h:mm:ss` from an hour on; rounds up so that 0:00 means time is up. */
export function formatRemaining(seconds: number): string {
  const total = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/**
 * The server's clock as seen from here: `now()` is server time in seconds.
 *
 * The offset (server minus local) is known to lie in an interval. A server time stamp read when a
 * message arrives is a lower bound (the message took some time to come); a message of ours that
 * the server stamped and echoed gives an upper bound too (stamped after we sent it). `now()` uses
 * the middle of the interval, or its lower bound while there is no upper one. When bounds
 * contradict each other the local clock was stepped (NTP, a user changing the time): the newest
 * sample then starts a new interval. `reset` (each welcome) also starts anew.
 */
export class ServerClock {
  /** `localNow` is in milliseconds, like `Date.now()`. */
  constructor(private readonly _localNow: () => number = () => Date.now()) {}

  /** Whether any server time has been seen. */
  get synced(): boolean {
    return this._low !== null;
  }

  /** Server time minus local time, seconds (0 before any sample). */
  get offset(): number {
    if (this._low === null) {
      return 0;
    }
    return this._high === null ? this._low : (this._low + this._high) / 2;
  }

  /** How far off `offset` may be, seconds: half the bounds' width (Infinity with one bound). */
  get uncertainty(): number {
    if (this._low === null) {
      return Infinity;
    }
    return this._high === null ? Infinity : (this._high - this._low) / 2;
  }

  /** Server time now, seconds. */
  now(): number {
    return this._localNow() / 1000 + this.offset;
  }

  /** Forget what was known and start from `serverTime`, read at `receivedAt` (ms). */
  reset(serverTime: number, receivedAt: number = this._localNow()): void {
    this._low = serverTime - receivedAt / 1000;
    this._high = null;
  }

  /** A server time stamp on a message that arrived at `receivedAt` (ms). */
  observe(serverTime: number, receivedAt: number = this._localNow()): void {
    const low = serverTime - receivedAt / 1000;
    if (this._low === null) {
      this._low = low;
    } else if (this._high !== null && low > this._high) {
      this._low = low;
      this._high = null;
    } else {
      this._low = Math.max(this._low, low);
    }
  }

  /** A message sent at `sentAt` (ms), stamped `serverTime` by the server, back at `receivedAt`. */
  roundTrip(sentAt: number, serverTime: number, receivedAt: number): void {
    if (receivedAt < sentAt) {
      return; // the local clock stepped back meanwhile: no bound from this one
    }
    const low = serverTime - receivedAt / 1000;
    const high = serverTime - sentAt / 1000;
    const consistent = this._low !== null && low <= (this._high ?? Infinity) && high >= this._low;
    if (!consistent) {
      this._low = low;
      this._high = high;
      return;
    }
    this._low = Math.max(this._low ?? low, low);
    this._high = Math.min(this._high ?? high, high);
  }

  private _low: number | null = null;
  private _high: number | null = null;
}
