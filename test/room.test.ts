// The room model (src/state/room.ts) fed by a fake signaling client: people, chat and unread,
// typing, timer, interview state, waiting room, and what it sends.
import { describe, expect, it } from '@jest/globals';
import { Signal } from '@lumino/signaling';

import {
  IConnectionStatus,
  IRoundTrip,
  ISignalingClient,
  SendableType
} from '../src/signaling/client';
import { AnyEnvelope, EventPayloads, WelcomePayload } from '../src/signaling/events';
import type { IRoomAPI, IRoomRecord } from '../src/state/api';
import { RoomModel } from '../src/state/room';
import { FakeScheduler } from './fakes/scheduler';
import { IServerFrame } from './fakes/websocket';

const T0 = 1_700_000_000;

class FakeClient implements ISignalingClient {
  status: IConnectionStatus = { state: 'connecting' };
  readonly message = new Signal<this, AnyEnvelope>(this);
  readonly stateChanged = new Signal<this, IConnectionStatus>(this);
  readonly roundTrip = new Signal<this, IRoundTrip>(this);
  readonly sent: Array<{ id: string; type: SendableType; payload: unknown; to?: string }> = [];
  down = false;

  send<K extends SendableType>(type: K, payload: EventPayloads[K], to?: string): string | null {
    if (this.down && (type === 'typing' || type === 'reaction')) {
      return null;
    }
    const id = `m${this.sent.length + 1}`;
    this.sent.push({ id, type, payload, to });
    return id;
  }

  deliver(frame: IServerFrame): void {
    this.message.emit({ v: 1, id: `s${++this._n}`, ts: T0, ...frame } as AnyEnvelope);
  }

  sentOf(type: SendableType): unknown[] {
    return this.sent.filter(m => m.type === type).map(m => m.payload);
  }

  private _n = 0;
}

function welcome(extra: Partial<WelcomePayload> = {}): WelcomePayload {
  return {
    participant_id: 'me',
    role: 'interviewer',
    status: 'admitted',
    server_now: T0,
    room_state: 'live',
    seq: 100,
    resumed: false,
    participants: [
      { id: 'me', name: 'Ines', role: 'interviewer', presence: 'online', media: { mic: true } },
      { id: 'cand', name: 'Carl', role: 'candidate', presence: 'online', hand_raised: true }
    ],
    chat: [{ id: 'c1', from: 'cand', name: 'Carl', text: 'hello', ts: T0 - 60 }],
    timer: {
      status: 'running',
      duration_s: 1800,
      elapsed_s: 600,
      started_at: T0 - 600,
      ends_at: T0 + 1200,
      server_now: T0
    },
    settings: { waiting_room: true },
    ...extra
  };
}

function setup(options: { api?: IRoomAPI } = {}) {
  const scheduler = new FakeScheduler(T0 * 1000);
  const client = new FakeClient();
  const model = new RoomModel('r1', { scheduler, api: options.api });
  model.attach(client);
  return { scheduler, client, model };
}

describe('RoomModel', () => {
  it('takes people, chat, timer and state from the welcome', () => {
    const { client, model } = setup();
    let changed = 0;
    model.changed.connect(() => changed++);
    client.deliver({ type: 'welcome', payload: welcome() });

    expect(model.myId).toBe('me');
    expect(model.myRole).toBe('interviewer');
    expect(model.isStaff).toBe(true);
    expect(changed).toBe(1);
    expect(model.interviewState).toBe('live');
    expect([...model.participants.keys()]).toEqual(['me', 'cand']);
    expect(model.participants.get('cand')?.handRaised).toBe(true);
    expect(model.participants.get('me')?.media).toEqual({ mic: true, cam: false, screen: false });
    expect(model.chat.map(m => m.text)).toEqual(['hello']);
    expect(model.unread).toBe(0); // history is not news
    expect(model.remaining()).toBe(1200);
    expect(model.settings).toEqual({ waiting_room: true });
  });

  it('counts the timer down on the server clock even with a skewed local clock', () => {
    const { client, model, scheduler } = setup();
    scheduler.time = (T0 - 3600) * 1000; // an hour behind
    client.deliver({ type: 'welcome', payload: welcome() });
    expect(model.remaining()).toBeCloseTo(1200);
    scheduler.advance(900_000);
    expect(model.remaining()).toBeCloseTo(300);
    expect(model.isLastMinutes()).toBe(true);
    client.deliver({
      type: 'timer',
      payload: { status: 'expired', duration_s: 1800, elapsed_s: 1800, server_now: T0 + 1200 }
    });
    expect(model.remaining()).toBe(0);
    expect(model.isTimeUp()).toBe(true);
  });

  it('shows our chat message at once, pending until the server echoes it', () => {
    const { client, model } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    const id = model.sendChat('  hi there  ');
    expect(client.sentOf('chat-message')).toEqual([{ text: 'hi there' }]);
    expect(model.chat[1]).toMatchObject({ id, text: 'hi there', pending: true, mine: true });

    client.deliver({
      type: 'chat-message',
      id: id ?? '',
      from: 'me',
      payload: { id: 'c2', text: 'hi there', name: 'Ines', ts: T0 + 1 }
    });
    expect(model.chat).toHaveLength(2);
    expect(model.chat[1]).toMatchObject({ id: 'c2', pending: false, mine: true });
    expect(model.unread).toBe(0);
    expect(model.sendChat('   ')).toBeNull();
  });

  it('marks a refused chat message as failed', () => {
    const { client, model } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    const id = model.sendChat('spam');
    client.deliver({
      type: 'error',
      payload: { code: 'rate_limited', message: 'too many chat messages', id }
    });
    expect(model.chat[1]).toMatchObject({ pending: false, failed: 'too many chat messages' });
  });

  it('counts unread messages from others while the chat is closed', () => {
    const { client, model } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    const say = (id: string, text: string) =>
      client.deliver({ type: 'chat-message', from: 'cand', payload: { id, text, name: 'Carl' } });
    say('c2', 'one');
    say('c3', 'two');
    expect(model.unread).toBe(2);
    model.setChatOpen(true);
    expect(model.unread).toBe(0);
    say('c4', 'three');
    expect(model.unread).toBe(0);
    model.setChatOpen(false);
    say('c5', 'four');
    expect(model.unread).toBe(1);
  });

  it('does not show a message twice when a resume replays it', () => {
    const { client, model } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    client.deliver({ type: 'chat-message', from: 'cand', payload: { id: 'c2', text: 'x' } });
    expect(model.unread).toBe(1);
    // Reconnected: the resumed welcome's history has c2 and a new c3; the replay repeats them.
    const history = [
      { id: 'c1', from: 'cand', name: 'Carl', text: 'hello', ts: T0 - 60 },
      { id: 'c2', from: 'cand', name: 'Carl', text: 'x', ts: T0 },
      { id: 'c3', from: 'cand', name: 'Carl', text: 'y', ts: T0 + 5 }
    ];
    client.deliver({ type: 'welcome', payload: welcome({ resumed: true, chat: history }) });
    client.deliver({ type: 'chat-message', from: 'cand', payload: { id: 'c2', text: 'x' } });
    client.deliver({ type: 'chat-message', from: 'cand', payload: { id: 'c3', text: 'y' } });
    expect(model.chat.map(m => m.id)).toEqual(['c1', 'c2', 'c3']);
    expect(model.unread).toBe(2);
  });

  it('shows who is typing until they stop, send, or go quiet', () => {
    const { client, model, scheduler } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    client.deliver({ type: 'typing', from: 'cand', payload: { typing: true } });
    expect([...model.typing]).toEqual(['cand']);
    client.deliver({ type: 'typing', from: 'cand', payload: { typing: false } });
    expect(model.typing.size).toBe(0);

    client.deliver({ type: 'typing', from: 'cand', payload: { typing: true } });
    client.deliver({ type: 'chat-message', from: 'cand', payload: { id: 'c9', text: 'done' } });
    expect(model.typing.size).toBe(0);

    client.deliver({ type: 'typing', from: 'cand', payload: { typing: true } });
    scheduler.advance(5999);
    expect(model.typing.size).toBe(1);
    scheduler.advance(1);
    expect(model.typing.size).toBe(0);
    // Our own echo is not shown.
    client.deliver({ type: 'typing', from: 'me', payload: { typing: true } });
    expect(model.typing.size).toBe(0);
  });

  it('sends typing at most every 3 s while typing, and one stop', () => {
    const { client, model, scheduler } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    model.setTyping(true);
    scheduler.advance(1000);
    model.setTyping(true);
    scheduler.advance(2500);
    model.setTyping(true);
    model.setTyping(false);
    model.setTyping(false);
    expect(client.sentOf('typing')).toEqual([
      { typing: true },
      { typing: true },
      { typing: false }
    ]);
  });

  it('follows presence, media, hands and people coming and going', () => {
    const { client, model } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    client.deliver({
      type: 'presence',
      from: 'cand',
      payload: { participant_id: 'cand', status: 'reconnecting', media: { cam: true } }
    });
    expect(model.participants.get('cand')).toMatchObject({
      presence: 'reconnecting',
      media: { mic: false, cam: true, screen: false }
    });
    client.deliver({ type: 'raise-hand', from: 'cand', payload: { raised: false } });
    expect(model.participants.get('cand')?.handRaised).toBe(false);

    // Announced again (a restarted server): an update, not a second entry.
    client.deliver({
      type: 'user-joined',
      from: 'cand',
      payload: { participant: { id: 'cand', name: 'Carl', role: 'candidate', presence: 'online' } }
    });
    expect(model.participants.size).toBe(2);
    expect(model.participants.get('cand')?.presence).toBe('online');

    client.deliver({ type: 'user-left', payload: { participant_id: 'cand' } });
    expect(model.participants.has('cand')).toBe(false);
  });

  it('rebuilds people from a welcome that could not resume', () => {
    const { client, model } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    client.deliver({ type: 'typing', from: 'cand', payload: { typing: true } });
    client.deliver({
      type: 'welcome',
      payload: welcome({
        participants: [{ id: 'me', name: 'Ines', role: 'interviewer' }],
        resumed: false
      })
    });
    expect([...model.participants.keys()]).toEqual(['me']);
    expect(model.typing.size).toBe(0);
  });

  it('shows knocks to interviewers and clears them on admit or deny', () => {
    const { client, model } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    client.deliver({
      type: 'waiting-room',
      from: 'c2',
      payload: { action: 'knock', participant_id: 'c2', name: 'Dana' }
    });
    expect(model.knocks.get('c2')).toMatchObject({ name: 'Dana', at: T0 });
    model.admit('c2');
    expect(client.sentOf('waiting-room')).toEqual([{ action: 'admit', participant_id: 'c2' }]);
    client.deliver({ type: 'waiting-room', payload: { action: 'admit', participant_id: 'c2' } });
    expect(model.knocks.size).toBe(0);
  });

  it('has a waiting candidate knock, and learn of its admission', () => {
    const { client, model } = setup();
    client.deliver({
      type: 'welcome',
      payload: {
        participant_id: 'cand',
        role: 'candidate',
        status: 'waiting',
        server_now: T0,
        room_state: 'live',
        seq: 5,
        resumed: false
      }
    });
    expect(client.sentOf('waiting-room')).toEqual([{ action: 'knock' }]);
    expect(model.myStatus).toBe('waiting');
    let changed = 0;
    model.changed.connect(() => changed++);
    client.deliver({ type: 'waiting-room', payload: { action: 'admit', participant_id: 'cand' } });
    expect(model.myStatus).toBe('admitted');
    expect(changed).toBe(1);
  });

  it('loads the waiting list over REST for an interviewer who joins late', async () => {
    const room: IRoomRecord = {
      id: 'r1',
      title: 't',
      language: 'python',
      state: 'live',
      duration_minutes: 30,
      settings: {},
      started_at: T0,
      ended_at: null,
      notebook_path: 'interviews/r1/interview.ipynb',
      participants: [
        { id: 'c2', name: 'Dana', role: 'candidate', status: 'waiting' },
        { id: 'c3', name: 'Eve', role: 'candidate', status: 'admitted' }
      ]
    };
    const asked: string[] = [];
    const api: IRoomAPI = {
      getRoom: async roomId => {
        asked.push(roomId);
        return room;
      },
      getMe: () => Promise.reject(new Error('unused')),
      getIceServers: () => Promise.reject(new Error('unused')),
      admit: () => Promise.reject(new Error('unused')),
      deny: () => Promise.reject(new Error('unused')),
      start: () => Promise.reject(new Error('unused')),
      end: () => Promise.reject(new Error('unused'))
    };
    const { client, model } = setup({ api });
    const knocks = new Promise<void>(resolve => model.knocksChanged.connect(() => resolve()));
    client.deliver({ type: 'welcome', payload: welcome() });
    await knocks;
    expect(asked).toEqual(['r1']);
    expect([...model.knocks.keys()]).toEqual(['c2']);
  });

  it("sends the interviewer's controls through the socket", () => {
    const { client, model } = setup();
    client.deliver({ type: 'welcome', payload: welcome() });
    model.timerAction('extend', 5);
    model.timerAction('pause');
    model.startInterview();
    model.endInterview();
    model.setMedia({ mic: false });
    model.raiseHand(true);
    expect(client.sent.map(m => [m.type, m.payload])).toEqual([
      ['timer', { action: 'extend', minutes: 5 }],
      ['timer', { action: 'pause' }],
      ['interview-state', { state: 'live' }],
      ['interview-state', { state: 'ended' }],
      ['presence', { media: { mic: false, cam: false, screen: false } }],
      ['raise-hand', { raised: true }]
    ]);
    expect(model.participants.get('me')?.media.mic).toBe(false);
  });

  it('follows the interview state and the connection', () => {
    const { client, model } = setup();
    const states: string[] = [];
    model.interviewStateChanged.connect((_, state) => states.push(state));
    client.deliver({ type: 'welcome', payload: welcome({ room_state: 'waiting' }) });
    client.deliver({ type: 'interview-state', payload: { state: 'live' } });
    client.deliver({ type: 'interview-state', payload: { state: 'ended' } });
    expect(states).toEqual(['waiting', 'live', 'ended']);

    client.stateChanged.emit({ state: 'reconnecting', retryInMs: 300, attempt: 1 });
    expect(model.connection).toEqual({ state: 'reconnecting', retryInMs: 300, attempt: 1 });
  });

  it("keeps the core plugin's me and error", () => {
    const model = new RoomModel('r1');
    model.setMe({ role: 'candidate', name: 'Carl' });
    expect(model.myRole).toBe('candidate');
    model.setError(new Error('x'));
    expect(model.error?.message).toBe('x');
  });
});
