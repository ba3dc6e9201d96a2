// A stand-in for the signaling hub for mesh and room-model tests: it stamps envelopes (from, seq,
// ts), relays `to` messages to one participant, broadcasts the rest, and announces joins and
// leaves. Deliveries wait in a queue until the test runs them. Room visibility rules (waiting
// room, ended interviews) are not modelled: the Python tests cover the real hub.
import { Signal } from '@lumino/signaling';

import { ISignalingPort, SendableType } from '../../src/signaling/client';
import { AnyEnvelope, EventPayloads, UserJoinedPayload } from '../../src/signaling/events';
import { IServerFrame } from './websocket';
import { nextTask } from './pair';

type Role = UserJoinedPayload['participant']['role'];

export interface ISentMessage {
  from: string;
  type: SendableType;
  payload: unknown;
  to?: string;
}

export class FakePort implements ISignalingPort {
  constructor(
    private readonly _server: FakeRoomServer,
    readonly id: string
  ) {}

  readonly message = new Signal<this, AnyEnvelope>(this);

  send<K extends SendableType>(type: K, payload: EventPayloads[K], to?: string): string {
    const id = `${this.id}-${++this._counter}`;
    this._server.relay(this.id, id, type, payload, to);
    return id;
  }

  private _counter = 0;
}

export class FakeRoomServer {
  readonly members = new Map<string, { port: FakePort; role: Role; name: string }>();
  /** Everything clients sent, in order. */
  readonly log: ISentMessage[] = [];
  seq = 1000;
  now = 1_700_000_000;

  join(id: string, role: Role, name = id): FakePort {
    const port = new FakePort(this, id);
    this.members.set(id, { port, role, name });
    const participants = [...this.members.entries()].map(([pid, m]) => ({
      id: pid,
      name: m.name,
      role: m.role,
      presence: 'online' as const,
      media: { mic: true, cam: true, screen: false },
      hand_raised: false
    }));
    this._to(id, {
      type: 'welcome',
      payload: {
        participant_id: id,
        role,
        status: 'admitted',
        server_now: this.now,
        room_state: 'live',
        participants,
        chat: [],
        seq: this.seq,
        resumed: false
      }
    });
    this.announce(id);
    return port;
  }

  /** user-joined for `id` to everyone else (also what a restarted server does on return). */
  announce(id: string): void {
    const m = this.members.get(id);
    if (m === undefined) {
      return;
    }
    this._broadcast(
      {
        type: 'user-joined',
        from: id,
        payload: { participant: { id, name: m.name, role: m.role, presence: 'online' } }
      },
      id
    );
  }

  leave(id: string): void {
    this.members.delete(id);
    this._broadcast({ type: 'user-left', payload: { participant_id: id } }, id);
  }

  end(): void {
    this._broadcast({ type: 'interview-state', payload: { state: 'ended' } });
  }

  relay(from: string, id: string, type: SendableType, payload: unknown, to?: string): void {
    this.log.push({ from, type, payload, to });
    const frame = { type, id, from, payload } as IServerFrame;
    if (to !== undefined) {
      this._to(to, { ...frame, to });
    } else {
      this._broadcast(frame);
    }
  }

  /** Run the queued deliveries; returns how many ran. */
  deliverAll(): number {
    let count = 0;
    while (this._queue.length > 0) {
      const delivery = this._queue.shift();
      delivery?.();
      count++;
    }
    return count;
  }

  async settle(maxRounds = 3000): Promise<void> {
    let quiet = 0;
    for (let round = 0; round < maxRounds; round++) {
      await nextTask();
      if (this.deliverAll() > 0) {
        quiet = 0;
      } else if (++quiet >= 5) {
        return;
      }
    }
    throw new Error('the room did not settle');
  }

  private _to(id: string, frame: IServerFrame): void {
    const envelope = {
      v: 1,
      id: `s${this.seq + 1}`,
      ...frame,
      seq: ++this.seq,
      ts: this.now
    } as AnyEnvelope;
    this._queue.push(() => this.members.get(id)?.port.message.emit(envelope));
  }

  private _broadcast(frame: IServerFrame, except?: string): void {
    for (const id of this.members.keys()) {
      if (id !== except) {
        this._to(id, frame);
      }
    }
  }

  private readonly _queue: Array<() => void> = [];
}
