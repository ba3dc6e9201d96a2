// The room socket client (src/signaling/client.ts): hello/welcome, seq and resume, backoff with
// jitter, terminal close codes, the send queue. A fake WebSocket plays the server; a manual
// scheduler plays time.
import { describe, expect, it } from '@jest/globals';

import {
  IConnectionStatus,
  ISignalingClientOptions,
  SignalingClient,
  backoffDelay,
  parseEnvelope,
  roomSocketUrl
} from '../src/signaling/client';
import { AnyEnvelope, WelcomePayload } from '../src/signaling/events';
import { FakeScheduler } from './fakes/scheduler';
import { FakeWebSocket, fakeWebSockets } from './fakes/websocket';

const URL = 'ws://127.0.0.1:8888/base/interview/api/rooms/r1/ws';

function welcome(
  seq: number,
  resumed: boolean,
  extra: Partial<WelcomePayload> = {}
): WelcomePayload {
  return {
    participant_id: 'p-cand',
    role: 'candidate',
    status: 'admitted',
    server_now: 1_700_000_000,
    room_state: 'live',
    seq,
    resumed,
    ...extra
  };
}

function setup(options: Partial<ISignalingClientOptions> = {}) {
  const ws = fakeWebSockets();
  const scheduler = new FakeScheduler(1_000_000);
  const randoms: number[] = [];
  const client = new SignalingClient({
    url: URL,
    WebSocket: ws.WebSocket,
    scheduler,
    random: () => randoms.shift() ?? 0.5,
    ...options
  });
  const states: IConnectionStatus[] = [];
  const messages: AnyEnvelope[] = [];
  client.stateChanged.connect((_, status) => states.push(status));
  client.message.connect((_, envelope) => messages.push(envelope));
  /** Open the newest socket and welcome it. */
  const accept = (seq: number, resumed = false): FakeWebSocket => {
    const socket = ws.last();
    socket.open();
    socket.deliver({ type: 'welcome', seq, payload: welcome(seq, resumed) });
    return socket;
  };
  return { client, ws, scheduler, randoms, states, messages, accept };
}

describe('roomSocketUrl', () => {
  it('turns the server URL into the room socket URL', () => {
    expect(roomSocketUrl({ baseUrl: 'http://h:8888/base/' }, 'r1')).toBe(
      'ws://h:8888/base/interview/api/rooms/r1/ws'
    );
    expect(roomSocketUrl({ baseUrl: 'https://h/jupyter' }, 'a b')).toBe(
      'wss://h/jupyter/interview/api/rooms/a%20b/ws'
    );
    expect(
      roomSocketUrl(
        { baseUrl: 'https://h/', wsUrl: 'wss://h/', token: 't&k', appendToken: true },
        'r1'
      )
    ).toBe('wss://h/interview/api/rooms/r1/ws?token=t%26k');
    expect(roomSocketUrl({ baseUrl: 'https://h/', token: 'tok' }, 'r1')).not.toContain('token');
  });
});

describe('backoffDelay', () => {
  it('grows exponentially from 250 ms with full jitter and stops growing at 10 s', () => {
    const top = () => 0.999999;
    const ceilings = [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000];
    ceilings.forEach((ceiling, attempt) => {
      expect(backoffDelay(attempt, top)).toBeCloseTo(ceiling, 0);
      expect(backoffDelay(attempt, top)).toBeLessThan(ceiling);
      expect(backoffDelay(attempt, () => 0)).toBe(0);
      expect(backoffDelay(attempt, () => 0.5)).toBe(ceiling / 2);
    });
  });
});

describe('connecting', () => {
  it('says hello without resume first, and is open once welcomed', () => {
    const { client, ws, states, accept } = setup({ hello: () => ({ client: 'jupyterlab' }) });
    client.connect();
    expect(ws.sockets).toHaveLength(1);
    expect(ws.last().url).toBe(URL);
    expect(client.state).toBe('connecting');

    const socket = accept(500);
    expect(socket.sent[0]).toMatchObject({ type: 'hello', payload: { client: 'jupyterlab' } });
    expect(socket.sent[0].payload).not.toHaveProperty('resume');
    expect(client.state).toBe('open');
    expect(client.lastSeq).toBe(500);
    expect(states.map(s => s.state)).toEqual(['connecting', 'open']);
  });

  it('keeps the highest seq seen across gaps, not counting welcome and error', () => {
    const { client, accept } = setup();
    client.connect();
    const socket = accept(100);
    socket.deliver({ type: 'typing', seq: 103, from: 'p2', payload: { typing: true } });
    socket.deliver({ type: 'typing', seq: 110, from: 'p2', payload: { typing: false } });
    expect(client.lastSeq).toBe(110);
    socket.deliver({ type: 'error', seq: 999, payload: { code: 'x', message: 'y' } });
    expect(client.lastSeq).toBe(110);
  });

  it('emits typed envelopes and ignores frames that are not known events', () => {
    const { client, accept, messages } = setup();
    client.connect();
    const socket = accept(1);
    socket.deliverRaw('not json');
    socket.deliverRaw(JSON.stringify({ v: 2, type: 'typing', id: 'x', payload: {} }));
    socket.deliverRaw(JSON.stringify({ v: 1, type: 'no-such-event', id: 'x', payload: {} }));
    socket.deliver({ type: 'chat-message', seq: 2, from: 'p2', payload: { text: 'hi', id: 'c1' } });
    expect(messages.map(m => m.type)).toEqual(['welcome', 'chat-message']);
    const chat = messages[1];
    if (chat.type !== 'chat-message') {
      throw new Error('expected a chat message');
    }
    expect(chat.payload.text).toBe('hi');
    expect(parseEnvelope(42)).toBeNull();
  });

  it('gives every message a unique id', () => {
    const { client, accept } = setup();
    client.connect();
    const socket = accept(1);
    const ids = new Set<string | null>();
    for (let i = 0; i < 50; i++) {
      ids.add(client.send('chat-message', { text: `m${i}` }));
    }
    expect(ids.size).toBe(50);
    expect(new Set(socket.sent.map(frame => frame.id)).size).toBe(51);
  });

  it('abandons a try that gets no welcome in time, and tries again', () => {
    const { client, ws, scheduler } = setup({ openTimeoutMs: 5000 });
    client.connect();
    ws.last().open(); // but no welcome comes
    scheduler.advance(4999);
    expect(ws.sockets).toHaveLength(1);
    scheduler.advance(1);
    expect(ws.sockets[0].closedByClient).not.toBeNull();
    scheduler.advance(250);
    expect(ws.sockets).toHaveLength(2);
  });
});

describe('reconnecting', () => {
  it('reconnects after a transient close, with delays that grow within the jitter bounds', () => {
    const { client, ws, scheduler, randoms, states, accept } = setup();
    client.connect();
    accept(10);
    randoms.push(0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999);

    const delays: number[] = [];
    ws.last().serverClose(1006);
    for (let attempt = 0; attempt < 8; attempt++) {
      expect(client.state).toBe('reconnecting');
      const [delay] = scheduler.pending();
      delays.push(delay);
      const count = ws.sockets.length;
      scheduler.advance(delay - 1);
      expect(ws.sockets).toHaveLength(count);
      scheduler.advance(1);
      expect(ws.sockets).toHaveLength(count + 1);
      ws.last().serverClose(1006); // this try fails too
    }
    const ceilings = [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000];
    delays.forEach((delay, i) => {
      expect(delay).toBeLessThan(ceilings[i]);
      expect(delay).toBeGreaterThan(ceilings[i] * 0.99);
    });
    expect(states.filter(s => s.retryInMs !== undefined).map(s => s.attempt)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9
    ]);
  });

  it('draws each delay uniformly from the window (full jitter)', () => {
    const { client, ws, scheduler, randoms, accept } = setup();
    client.connect();
    accept(10);
    randoms.push(0.1, 0.9, 0);
    ws.last().serverClose(1006);
    expect(scheduler.pending()[0]).toBeCloseTo(25);
    scheduler.advance(25);
    ws.last().serverClose(1006);
    expect(scheduler.pending()[0]).toBeCloseTo(450);
    scheduler.advance(450);
    ws.last().serverClose(1006);
    expect(scheduler.pending()[0]).toBe(0);
  });

  it('starts from the base delay again after a stable connection, not after a short one', () => {
    const { client, ws, scheduler, randoms, accept } = setup();
    client.connect();
    accept(10);
    randoms.push(...Array(20).fill(0.999));
    for (let i = 0; i < 4; i++) {
      ws.last().serverClose(1006);
      scheduler.advance(scheduler.pending()[0]);
    }
    // Four failed tries; welcomed, but dropped again after 1 s: still backing off (attempt 4).
    accept(20);
    scheduler.advance(1000);
    ws.last().serverClose(1006);
    expect(scheduler.pending()[0]).toBeGreaterThan(3990);
    scheduler.advance(scheduler.pending()[0]);

    // Welcomed and up for 5 s: stable, so the next drop retries fast.
    accept(30);
    scheduler.advance(5000);
    ws.last().serverClose(1006);
    expect(scheduler.pending()[0]).toBeLessThan(250);
  });

  it('resumes from the last seq, and keeps it on a resumed welcome', () => {
    const { client, ws, scheduler, accept, messages } = setup();
    client.connect();
    const first = accept(100);
    first.deliver({ type: 'typing', seq: 104, from: 'p2', payload: { typing: true } });
    first.serverClose(1006);
    scheduler.advance(scheduler.pending()[0]);

    const second = ws.last();
    second.open();
    expect(second.sent[0]).toMatchObject({ type: 'hello', payload: { resume: 104 } });
    // The resumed welcome carries the room's current seq; the replay of 105..107 follows.
    second.deliver({ type: 'welcome', seq: 107, payload: welcome(107, true) });
    expect(client.lastSeq).toBe(104);
    second.deliver({ type: 'typing', seq: 106, from: 'p2', payload: { typing: false } });
    expect(client.lastSeq).toBe(106);
    expect(messages.filter(m => m.type === 'welcome')).toHaveLength(2);
  });

  it('resets the seq to the welcome seq when the server could not resume, even downwards', () => {
    const { client, ws, scheduler, accept } = setup();
    client.connect();
    const first = accept(5_000_000);
    first.deliver({ type: 'typing', seq: 5_000_010, from: 'p2', payload: { typing: true } });
    first.serverClose(1012); // the process went away: reconnect
    scheduler.advance(scheduler.pending()[0]);
    expect(ws.sockets).toHaveLength(2);
    ws.last().open();
    expect(ws.last().sent[0].payload).toEqual({ resume: 5_000_010 });
    ws.last().deliver({ type: 'welcome', seq: 4_000_000, payload: welcome(4_000_000, false) });
    expect(client.lastSeq).toBe(4_000_000);
  });

  it('does not move the seq back on a welcome in the middle of a socket (admission)', () => {
    const { client, accept } = setup();
    client.connect();
    const socket = accept(100);
    socket.deliver({ type: 'typing', seq: 120, from: 'p2', payload: { typing: true } });
    socket.deliver({ type: 'welcome', seq: 110, payload: welcome(110, false) });
    expect(client.lastSeq).toBe(120);
    expect(client.state).toBe('open');
  });

  it.each([
    [4001, 'replaced'],
    [4003, 'forbidden'],
    [4004, 'gone'],
    [1008, 'policy']
  ])('does not reconnect after close code %i (%s)', (code, reason) => {
    const { client, ws, scheduler, states, accept } = setup();
    client.connect();
    accept(1);
    ws.last().serverClose(code, 'because');
    expect(client.state).toBe('closed');
    expect(client.status.terminal).toEqual({ reason, code, message: 'because' });
    expect(states[states.length - 1].state).toBe('closed');
    scheduler.advance(60 * 60 * 1000);
    expect(ws.sockets).toHaveLength(1);
    expect(client.send('chat-message', { text: 'late' })).toBeNull();
  });

  it('does not reconnect after a terminal close before the first welcome either', () => {
    const { client, ws, scheduler } = setup();
    client.connect();
    ws.last().open();
    ws.last().serverClose(4003, 'revoked');
    scheduler.advance(60_000);
    expect(ws.sockets).toHaveLength(1);
    expect(client.status.terminal?.reason).toBe('forbidden');
  });

  it('reconnects on 1012 and on other transient codes', () => {
    for (const code of [1012, 1001, 1006, 1011]) {
      const { client, ws, scheduler, accept } = setup();
      client.connect();
      accept(1);
      ws.last().serverClose(code);
      expect(client.state).toBe('reconnecting');
      scheduler.advance(10_000);
      expect(ws.sockets).toHaveLength(2);
    }
  });

  it('reconnects at once on reconnectNow, and stays closed after close()', () => {
    const { client, ws, accept, scheduler } = setup();
    client.connect();
    accept(1);
    ws.last().serverClose(1006);
    client.reconnectNow();
    expect(ws.sockets).toHaveLength(2);
    accept(2);
    client.close();
    expect(client.status.terminal?.reason).toBe('client');
    expect(ws.last().closedByClient?.code).toBe(1000);
    scheduler.advance(60_000);
    expect(ws.sockets).toHaveLength(2);
  });
});

describe('sending while down', () => {
  it('queues messages and sends them, in order, after the next welcome', () => {
    const { client, ws, scheduler, accept } = setup();
    client.connect();
    accept(1);
    ws.last().serverClose(1006);
    const chatId = client.send('chat-message', { text: 'are you there?' });
    expect(chatId).not.toBeNull();
    client.send('sdp-offer', { type: 'offer', sdp: 'v=0' }, 'p-int');
    expect(client.queued).toBe(2);

    scheduler.advance(scheduler.pending()[0]);
    const socket = ws.last();
    socket.open();
    expect(socket.sent.map(f => f.type)).toEqual(['hello']); // nothing before the welcome
    socket.deliver({ type: 'welcome', seq: 2, payload: welcome(2, true) });
    expect(socket.sent.map(f => f.type)).toEqual(['hello', 'chat-message', 'sdp-offer']);
    expect(socket.sent[1].id).toBe(chatId);
    expect(socket.sent[2].to).toBe('p-int');
    expect(client.queued).toBe(0);
  });

  it('drops typing and reactions, and keeps only the latest presence', () => {
    const { client, ws, scheduler, accept } = setup();
    client.connect();
    accept(1);
    ws.last().serverClose(1006);
    expect(client.send('typing', { typing: true })).toBeNull();
    expect(client.send('reaction', { emoji: '👍' })).toBeNull();
    client.send('presence', { media: { mic: true } });
    client.send('presence', { media: { mic: false, cam: true } });
    expect(client.queued).toBe(1);
    expect(client.dropped).toBe(2);

    scheduler.advance(scheduler.pending()[0]);
    accept(2, true);
    const socket = ws.last();
    expect(socket.sent.map(f => f.type)).toEqual(['hello', 'presence']);
    expect(socket.sent[1].payload).toEqual({ media: { mic: false, cam: true } });
  });

  it('bounds the queue, dropping the oldest', () => {
    const { client, ws, scheduler, accept } = setup({ queueLimit: 3 });
    client.connect();
    accept(1);
    ws.last().serverClose(1006);
    for (let i = 0; i < 5; i++) {
      client.send('chat-message', { text: `m${i}` });
    }
    expect(client.queued).toBe(3);
    expect(client.dropped).toBe(2);
    scheduler.advance(scheduler.pending()[0]);
    accept(2, true);
    expect(
      ws
        .last()
        .sent.slice(1)
        .map(f => f.payload.text)
    ).toEqual(['m2', 'm3', 'm4']);
  });

  it('times the echo of a message for the clock', () => {
    const { client, scheduler, accept } = setup();
    const trips: Array<{ sentAt: number; serverTs: number; receivedAt: number }> = [];
    client.roundTrip.connect((_, trip) => trips.push(trip));
    client.connect();
    const socket = accept(1);
    const id = client.send('chat-message', { text: 'hi' });
    scheduler.advance(40);
    socket.deliver({
      type: 'chat-message',
      id: id ?? '',
      seq: 2,
      ts: 1_700_000_123.5,
      from: 'p-cand',
      payload: { text: 'hi', id: 'c9' }
    });
    expect(trips).toEqual([
      { sentAt: 1_000_000, serverTs: 1_700_000_123.5, receivedAt: 1_000_040 }
    ]);
  });
});
