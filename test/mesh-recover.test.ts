// The call mesh (src/media/mesh.ts) after one participant's socket dropped while both sides
// restarted ICE: the offer sent to the one who was away is lost, and the other side must offer
// again when they come back (presence reconnecting -> online), or the call stays stuck.
import { describe, expect, it } from '@jest/globals';
import { ISignal, Signal } from '@lumino/signaling';

import { Mesh } from '../src/media/mesh';
import { ISignalingPort, SendableType } from '../src/signaling/client';
import { AnyEnvelope, EventPayloads } from '../src/signaling/events';
import { nextTask } from './fakes/pair';
import { FakePeerConnection, FakeStream, FakeTrack, FakeWorld } from './fakes/peer';
import { FakePort, FakeRoomServer } from './fakes/room-server';
import { FakeScheduler } from './fakes/scheduler';

/**
 * A participant's socket that can go down: while down, what the server sends it is lost and
 * what it sends waits (as SignalingClient queues it) until it is back.
 */
class FlakyPort implements ISignalingPort {
  constructor(private readonly _inner: FakePort) {
    _inner.message.connect((_, envelope) => {
      if (!this.down) {
        this._message.emit(envelope);
      }
    });
  }

  down = false;

  get message(): ISignal<this, AnyEnvelope> {
    return this._message;
  }

  send<K extends SendableType>(type: K, payload: EventPayloads[K], to?: string): string | null {
    if (this.down) {
      this._held.push(() => this._inner.send(type, payload, to));
      return 'held';
    }
    return this._inner.send(type, payload, to);
  }

  /** Back: a resumed welcome arrives, then what was held goes out. */
  back(welcome: AnyEnvelope): void {
    this.down = false;
    this._message.emit(welcome);
    for (const send of this._held.splice(0)) {
      send();
    }
  }

  private readonly _held: Array<() => void> = [];
  private readonly _message = new Signal<this, AnyEnvelope>(this);
}

function presence(id: string, status: 'online' | 'reconnecting'): AnyEnvelope {
  return {
    v: 1,
    id: `presence-${id}-${status}`,
    type: 'presence',
    from: id,
    payload: { participant_id: id, status }
  } as AnyEnvelope;
}

async function settle(server: FakeRoomServer, clock: FakeScheduler, ms = 0): Promise<void> {
  await server.settle();
  if (ms > 0) {
    clock.advance(ms);
    await server.settle();
  }
}

async function scenario(peerBackAfterMs: number | undefined) {
  const world = new FakeWorld();
  const server = new FakeRoomServer();
  const clock = new FakeScheduler(1_000_000);
  const make = async (id: string, port: ISignalingPort) => {
    const mesh = new Mesh<FakeTrack, FakeStream>({
      port,
      createPeer: remote => world.createPeer(`${id}->${remote}`),
      scheduler: clock,
      disconnectedTimeoutMs: 3000,
      recoverAfterMs: 1500,
      peerBackAfterMs
    });
    await mesh.setLocalMedia({
      stream: new FakeStream(id),
      audio: new FakeTrack('audio', `${id}-mic`),
      video: new FakeTrack('video', `${id}-cam`)
    });
    return mesh;
  };
  // 'cand' < 'iv': the candidate is the polite side, the interviewer ignores colliding offers.
  const iv = await make('iv', server.join('iv', 'interviewer'));
  await server.settle();
  const candPort = new FlakyPort(server.join('cand', 'candidate'));
  const cand = await make('cand', candPort);
  await settle(server, clock);
  const pc = (name: string): FakePeerConnection =>
    world.peers.filter(p => p.name === name && !p.closed).slice(-1)[0];
  expect(iv.links.get('cand')?.state.ice).toBe('connected');

  // The cut: the candidate's socket and both ICE paths go down; both sides restart ICE.
  candPort.down = true;
  // The interviewer hears the candidate is reconnecting.
  server.members.get('iv')?.port.message.emit(presence('cand', 'reconnecting'));
  pc('iv->cand').breakIce('failed');
  pc('cand->iv').breakIce('failed');
  await settle(server, clock, 100);
  expect(iv.links.get('cand')?.state.signaling).toBe('have-local-offer'); // its offer is lost

  // The candidate is back: resumed welcome, its held offer goes out, the server says online.
  candPort.back({
    v: 1,
    id: 'welcome-again',
    type: 'welcome',
    seq: server.seq,
    payload: {
      participant_id: 'cand',
      role: 'candidate',
      status: 'admitted',
      server_now: server.now,
      room_state: 'live',
      participants: [
        { id: 'iv', name: 'iv', role: 'interviewer', presence: 'online' },
        { id: 'cand', name: 'cand', role: 'candidate', presence: 'online' }
      ],
      seq: server.seq,
      resumed: true
    }
  } as AnyEnvelope);
  server.members.get('iv')?.port.message.emit(presence('cand', 'online'));
  for (let i = 0; i < 10; i++) {
    await settle(server, clock, 1000);
  }
  await nextTask();
  return { iv, cand };
}

describe('Mesh after a participant reconnects', () => {
  it('offers again to a participant back from reconnecting, and the call comes back', async () => {
    const { iv, cand } = await scenario(1000);
    expect(iv.links.get('cand')?.state).toMatchObject({ signaling: 'stable', ice: 'connected' });
    expect(cand.links.get('iv')?.state).toMatchObject({ signaling: 'stable', ice: 'connected' });
    iv.dispose();
    cand.dispose();
  });

  it('stays stuck without it (the impolite side never learns its offer was lost)', async () => {
    // peerBackAfterMs so long that it never fires within the scenario: the old behaviour.
    const { iv, cand } = await scenario(10_000_000);
    expect(iv.links.get('cand')?.state.ice).not.toBe('connected');
    iv.dispose();
    cand.dispose();
  });
});
