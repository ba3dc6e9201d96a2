// The timer's clock arithmetic (src/state/clock.ts): server clock offset and time left, with the
// timer snapshots built exactly as the server's Timer.to_json builds them.
import { describe, expect, it } from '@jest/globals';

import {
  ServerClock,
  TimerSnapshot,
  formatRemaining,
  isLastMinutes,
  isTimeUp,
  remainingSeconds,
  timerFromPayload
} from '../src/state/clock';

/** The server's Timer, to build snapshots the way jupyter_interview/rooms/timer.py does. */
class ServerTimer {
  constructor(
    public status: TimerSnapshot['status'] = 'idle',
    public duration_s = 0,
    public elapsed_s = 0,
    public started_at: number | null = null
  ) {}

  elapsed(now: number): number {
    const running =
      this.status === 'running' && this.started_at !== null ? now - this.started_at : 0;
    return Math.min(this.duration_s, this.elapsed_s + Math.max(0, running));
  }

  start(now: number, duration_s: number): void {
    Object.assign(this, { status: 'running', duration_s, elapsed_s: 0, started_at: now });
  }

  pause(now: number): void {
    Object.assign(this, { status: 'paused', elapsed_s: this.elapsed(now), started_at: null });
  }

  resume(now: number): void {
    Object.assign(this, { status: 'running', started_at: now });
  }

  extend(now: number, minutes: number): void {
    if (this.status === 'expired') {
      Object.assign(this, {
        status: 'running',
        elapsed_s: this.duration_s,
        duration_s: this.duration_s + minutes * 60,
        started_at: now
      });
    } else {
      this.duration_s += minutes * 60;
    }
  }

  expire(): void {
    Object.assign(this, { status: 'expired', elapsed_s: this.duration_s, started_at: null });
  }

  toJson(now: number): TimerSnapshot {
    const endsAt =
      this.status === 'running' && this.started_at !== null
        ? this.started_at + this.duration_s - this.elapsed_s
        : null;
    return {
      status: this.status,
      duration_s: this.duration_s,
      elapsed_s: Math.round(this.elapsed(now) * 1000) / 1000,
      started_at: this.started_at,
      ends_at: endsAt,
      server_now: now
    };
  }

  remaining(now: number): number {
    return Math.max(0, this.duration_s - this.elapsed(now));
  }
}

const T0 = 1_700_000_000; // server time, seconds

describe('ServerClock', () => {
  it('reads server time through a skewed local clock', () => {
    // The browser's clock is 2 minutes behind the server's.
    let local = (T0 - 120) * 1000;
    const clock = new ServerClock(() => local);
    expect(clock.synced).toBe(false);
    clock.reset(T0);
    expect(clock.offset).toBeCloseTo(120);
    local += 30_000;
    expect(clock.now()).toBeCloseTo(T0 + 30);
  });

  it('treats one-way stamps as lower bounds and round trips as an interval', () => {
    let local = 0;
    const clock = new ServerClock(() => local);
    // True offset: 1000 s. Messages take 50 ms to arrive.
    clock.observe(1000 - 0.05, 0); // stamped 50 ms before it arrived
    expect(clock.offset).toBeCloseTo(999.95);
    clock.observe(1000 + 10 - 0.01, 10_000); // a faster one: a better lower bound
    expect(clock.offset).toBeCloseTo(999.99);
    expect(clock.uncertainty).toBe(Infinity);
    // Sent at local 20 s, stamped at server 1020.04, back at local 20.1 s.
    clock.roundTrip(20_000, 1020.04, 20_100);
    expect(clock.offset).toBeGreaterThanOrEqual(999.99);
    expect(clock.offset).toBeLessThanOrEqual(1000.04);
    expect(clock.uncertainty).toBeLessThanOrEqual(0.05);
    local = 30_000;
    expect(Math.abs(clock.now() - 1030)).toBeLessThan(0.05);
  });

  it('starts over when the local clock is stepped', () => {
    const clock = new ServerClock(() => 0);
    clock.roundTrip(0, 1000, 100); // offset in [999.9, 1000]
    // The local clock jumps an hour ahead: samples now say offset ~ -2600.
    clock.roundTrip(3_600_000, 1000 + 1, 3_600_100);
    expect(clock.offset).toBeCloseTo(1001 - 3600.05, 1);
    clock.observe(1002 - 0, 3_601_000);
    expect(clock.offset).toBeCloseTo(1002 - 3601, 1);
  });

  it('resets on each welcome', () => {
    const clock = new ServerClock(() => 0);
    clock.roundTrip(0, 1000, 10);
    clock.reset(500, 0);
    expect(clock.offset).toBe(500);
    expect(clock.uncertainty).toBe(Infinity);
  });
});

describe('time left', () => {
  it('counts down a running timer against server time, whatever the local clock says', () => {
    const server = new ServerTimer();
    server.start(T0, 30 * 60);
    const snapshot = server.toJson(T0 + 100); // sent 100 s into the run
    // Client clock 7 minutes fast; the welcome came with server_now = T0 + 100.
    let local = (T0 + 100 + 420) * 1000;
    const clock = new ServerClock(() => local);
    clock.reset(T0 + 100);
    expect(remainingSeconds(snapshot, clock.now())).toBeCloseTo(server.remaining(T0 + 100));
    expect(remainingSeconds(snapshot, clock.now())).toBeCloseTo(1700);
    local += 250_000;
    expect(remainingSeconds(snapshot, clock.now())).toBeCloseTo(server.remaining(T0 + 350));
    expect(remainingSeconds(snapshot, clock.now())).toBeCloseTo(1450);
  });

  it('does not count the current run twice (elapsed_s already includes it)', () => {
    const server = new ServerTimer();
    server.start(T0, 1800);
    const snapshot = server.toJson(T0 + 100);
    expect(snapshot.elapsed_s).toBe(100);
    expect(snapshot.started_at).toBe(T0);
    // duration - elapsed - (now - started_at) would say 1600 here.
    expect(remainingSeconds(snapshot, T0 + 100)).toBe(1700);
    // Without ends_at, from server_now.
    expect(remainingSeconds({ ...snapshot, ends_at: null }, T0 + 160)).toBe(1640);
  });

  it('holds still while paused, and goes on from there when resumed', () => {
    const server = new ServerTimer();
    server.start(T0, 1800);
    server.pause(T0 + 600);
    const paused = server.toJson(T0 + 600);
    expect(remainingSeconds(paused, T0 + 600)).toBe(1200);
    expect(remainingSeconds(paused, T0 + 5000)).toBe(1200);
    expect(isTimeUp(paused, T0 + 5000)).toBe(false);

    server.resume(T0 + 5000);
    const resumed = server.toJson(T0 + 5000);
    expect(remainingSeconds(resumed, T0 + 5060)).toBeCloseTo(server.remaining(T0 + 5060));
    expect(remainingSeconds(resumed, T0 + 5060)).toBe(1140);
  });

  it('adds the minutes of an extension, running or after time was up', () => {
    const server = new ServerTimer();
    server.start(T0, 1800);
    server.extend(T0 + 1000, 10);
    const extended = server.toJson(T0 + 1000);
    expect(remainingSeconds(extended, T0 + 1000)).toBe(1400);
    expect(remainingSeconds(extended, T0 + 1100)).toBe(server.remaining(T0 + 1100));

    server.expire();
    const expired = server.toJson(T0 + 2400);
    expect(remainingSeconds(expired, T0 + 2400)).toBe(0);
    expect(isTimeUp(expired, T0 + 2400)).toBe(true);

    server.extend(T0 + 2500, 5);
    const again = server.toJson(T0 + 2500);
    expect(remainingSeconds(again, T0 + 2500)).toBe(300);
    expect(remainingSeconds(again, T0 + 2560)).toBe(240);
    expect(isTimeUp(again, T0 + 2560)).toBe(false);
  });

  it('is up at the end of a running timer before the server says expired', () => {
    const server = new ServerTimer();
    server.start(T0, 60);
    const running = server.toJson(T0);
    expect(remainingSeconds(running, T0 + 59.5)).toBeCloseTo(0.5);
    expect(isTimeUp(running, T0 + 59.5)).toBe(false);
    expect(remainingSeconds(running, T0 + 61)).toBe(0);
    expect(isTimeUp(running, T0 + 61)).toBe(true);
  });

  it('shows the whole duration before the start', () => {
    const idle: TimerSnapshot = {
      status: 'idle',
      duration_s: 2700,
      elapsed_s: 0,
      started_at: null,
      ends_at: null,
      server_now: T0
    };
    expect(remainingSeconds(idle, T0 + 999)).toBe(2700);
    expect(isLastMinutes(idle, T0)).toBe(false);
  });

  it('turns red in the last five minutes only', () => {
    const server = new ServerTimer();
    server.start(T0, 1800);
    const snapshot = server.toJson(T0);
    expect(isLastMinutes(snapshot, T0 + 1499)).toBe(false); // 301 s left
    expect(isLastMinutes(snapshot, T0 + 1500)).toBe(true); // 300 s left
    expect(isLastMinutes(snapshot, T0 + 1799)).toBe(true);
    expect(isLastMinutes(snapshot, T0 + 1800)).toBe(false); // time is up instead
    server.pause(T0 + 1700);
    expect(isLastMinutes(server.toJson(T0 + 1700), T0 + 9999)).toBe(true);
  });

  it('reads timer events, and not an action without state', () => {
    expect(timerFromPayload({ action: 'pause' })).toBeNull();
    expect(
      timerFromPayload({
        status: 'running',
        duration_s: 60,
        elapsed_s: 1,
        started_at: T0,
        ends_at: T0 + 60,
        server_now: T0 + 1
      })
    ).toEqual({
      status: 'running',
      duration_s: 60,
      elapsed_s: 1,
      started_at: T0,
      ends_at: T0 + 60,
      server_now: T0 + 1
    });
  });

  it('formats time left, rounding up', () => {
    expect(formatRemaining(0)).toBe('0:00');
    expect(formatRemaining(0.2)).toBe('0:01');
    expect(formatRemaining(299.5)).toBe('5:00');
    expect(formatRemaining(3725)).toBe('1:02:05');
    expect(formatRemaining(-3)).toBe('0:00');
  });
});
