// The room socket client's `outageFraction` (src/signaling/client.ts): after a short outage the
// next try comes within a fraction of the time spent down, a long outage still backs off to the cap.
import { describe, expect, it } from '@jest/globals';

import { SignalingClient } from '../src/signaling/client';
import { FakeScheduler } from './fakes/scheduler';
import { fakeWebSockets } from './fakes/websocket';

function setup(outageFraction?: number) {
  const ws = fakeWebSockets();
  const scheduler = new FakeScheduler(1_000_000);
  const client = new SignalingClient({
    url: 'ws://127.0.0.1:1/interview/api/rooms/r1/ws',
    WebSocket: ws.WebSocket,
    scheduler,
    random: () => 0.999, // always the top of the jitter window
    backoff: { outageFraction }
  });
  client.connect();
  const socket = ws.last();
  socket.open();
  socket.deliver({
    type: 'welcome',
    seq: 1,
    payload: {
      participant_id: 'p1',
      role: 'candidate',
      status: 'admitted',
      server_now: 1_700_000_000,
      room_state: 'live',
      seq: 1,
      resumed: false
    }
  });
  scheduler.advance(10_000); // stable
  return { client, ws, scheduler };
}

/** The server stays unreachable for `ms`: every try fails at once. Returns the waits seen. */
function outage(ws: ReturnType<typeof fakeWebSockets>, scheduler: FakeScheduler, ms: number): number[] {
  const waits: number[] = [];
  const end = scheduler.now() + ms;
  ws.last().serverClose(1006);
  while (scheduler.now() < end) {
    const [wait] = scheduler.pending();
    waits.push(wait);
    scheduler.advance(wait);
    ws.last().serverClose(1006);
  }
  return waits;
}

describe('outageFraction', () => {
  it('keeps the waits within a quarter of the outage so far: back within ~1.3 s of a 5 s cut', () => {
    const { ws, scheduler } = setup(0.25);
    outage(ws, scheduler, 5000);
    const [next] = scheduler.pending();
    // Without the fraction the top of the window after 5 s of failures is 8 s or more.
    expect(next).toBeLessThanOrEqual(0.25 * 6500);
    expect(next).toBeGreaterThan(0);
  });

  it('still grows to the cap during a long outage', () => {
    const { ws, scheduler } = setup(0.25);
    const waits = outage(ws, scheduler, 5 * 60_000);
    expect(Math.max(...waits)).toBeGreaterThan(9_900);
    expect(Math.max(...waits)).toBeLessThan(10_000);
    // Bounded count: a long outage does not turn into a busy loop.
    expect(waits.length).toBeLessThan(60);
  });

  it('is off by default: the plain exponential window', () => {
    const { ws, scheduler } = setup(undefined);
    outage(ws, scheduler, 5000);
    expect(scheduler.pending()[0]).toBeGreaterThan(7_900);
  });

  it('starts counting anew after a welcome', () => {
    const { client, ws, scheduler } = setup(0.25);
    outage(ws, scheduler, 60_000);
    scheduler.advance(scheduler.pending()[0]); // the next try, which the server now answers
    const socket = ws.last();
    socket.open();
    socket.deliver({
      type: 'welcome',
      seq: 2,
      payload: {
        participant_id: 'p1',
        role: 'candidate',
        status: 'admitted',
        server_now: 1_700_000_100,
        room_state: 'live',
        seq: 2,
        resumed: true
      }
    });
    expect(client.state).toBe('open');
    scheduler.advance(10_000);
    ws.last().serverClose(1006);
    expect(scheduler.pending()[0]).toBeLessThanOrEqual(250);
  });
});
