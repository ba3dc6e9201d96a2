// Two PeerLinks over fake peer connections, joined by an in-order "socket" the test controls:
// messages wait on the wire until the test delivers them, so glare can be staged exactly.
import { PeerLink, SignalMessage } from '../../src/media/negotiation';
import { FakePeerConnection, FakeStream, FakeTrack, FakeWorld } from './peer';
import { FakeScheduler } from './scheduler';

export type Side = 'alice' | 'bob';

export interface IWireMessage {
  to: Side;
  message: SignalMessage;
}

export class Pair {
  constructor(options: { disconnectedTimeoutMs?: number } = {}) {
    this.pcA = this.world.createPeer('alice');
    this.pcB = this.world.createPeer('bob');
    this.a = this._link('alice', 'bob', this.pcA, options.disconnectedTimeoutMs);
    this.b = this._link('bob', 'alice', this.pcB, options.disconnectedTimeoutMs);
  }

  readonly world = new FakeWorld();
  readonly scheduler = new FakeScheduler();
  readonly wire: IWireMessage[] = [];
  readonly sent: Record<Side, SignalMessage[]> = { alice: [], bob: [] };
  readonly errors: string[] = [];
  readonly pcA: FakePeerConnection;
  readonly pcB: FakePeerConnection;
  readonly a: PeerLink<FakeTrack, FakeStream>;
  readonly b: PeerLink<FakeTrack, FakeStream>;

  link(side: Side): PeerLink<FakeTrack, FakeStream> {
    return side === 'alice' ? this.a : this.b;
  }

  offersSent(side: Side): number {
    return this.sent[side].filter(m => m.type === 'sdp-offer').length;
  }

  /** Deliver the first waiting message for `to` (in order, as a socket would). */
  deliverNext(to: Side): boolean {
    const index = this.wire.findIndex(m => m.to === to);
    if (index < 0) {
      return false;
    }
    const [{ message }] = this.wire.splice(index, 1);
    void this.link(to).handle(message);
    return true;
  }

  /** Deliver everything on the wire now, in order. */
  deliverAll(): number {
    let count = 0;
    while (this.wire.length > 0) {
      const { to, message } = this.wire.shift() as IWireMessage;
      void this.link(to).handle(message);
      count++;
    }
    return count;
  }

  /** Deliver and let everything run until nothing moves any more. */
  async settle(maxRounds = 2000): Promise<void> {
    let quiet = 0;
    for (let round = 0; round < maxRounds; round++) {
      await nextTask();
      if (this.deliverAll() > 0) {
        quiet = 0;
      } else if (++quiet >= 5) {
        return;
      }
    }
    throw new Error(`the pair did not settle; wire: ${JSON.stringify(this.wire)}`);
  }

  /** Add a mic and a camera on one side; returns them. */
  addMedia(side: Side): { mic: FakeTrack; cam: FakeTrack } {
    const mic = new FakeTrack('audio', `${side}-mic`);
    const cam = new FakeTrack('video', `${side}-cam`);
    const stream = new FakeStream(`${side}-stream`);
    this.link(side).addTrack(mic, stream);
    this.link(side).addTrack(cam, stream);
    return { mic, cam };
  }

  private _link(
    localId: Side,
    remoteId: Side,
    pc: FakePeerConnection,
    disconnectedTimeoutMs: number | undefined
  ): PeerLink<FakeTrack, FakeStream> {
    return new PeerLink<FakeTrack, FakeStream>({
      localId,
      remoteId,
      pc,
      send: message => {
        this.sent[localId].push(message);
        this.wire.push({ to: remoteId, message });
      },
      scheduler: this.scheduler,
      disconnectedTimeoutMs,
      onError: (error, context) => {
        this.errors.push(`${localId}: ${context}: ${String(error)}`);
      }
    });
  }
}

/** Let timers of 0 ms and every microtask before them run. */
export function nextTask(): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, 0));
}

export async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await Promise.resolve();
  }
}

/** A small seeded PRNG (mulberry32), for reproducible interleavings. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
