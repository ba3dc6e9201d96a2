// The perfect-negotiation state machine of one call leg (src/media/negotiation.ts) over fake peer
// connections that model signalingState, rollback, transceivers and ICE credentials
// (test/fakes/peer.ts). No browser: the real thing is covered by the end-to-end tests.
import { describe, expect, it } from '@jest/globals';

import { iceUfrags, isPolite } from '../src/media/negotiation';
import { FakePeerConnection, FakeTrack } from './fakes/peer';
import { Pair, microtasks, nextTask, seeded } from './fakes/pair';

function sources(pc: FakePeerConnection): Set<FakeTrack | null> {
  return new Set(pc.received.map(track => track.source));
}

function expectConnected(pair: Pair): void {
  expect(pair.pcA.signalingState).toBe('stable');
  expect(pair.pcB.signalingState).toBe('stable');
  expect(pair.pcA.iceConnectionState).toBe('connected');
  expect(pair.pcB.iceConnectionState).toBe('connected');
}

async function connectedPair(): Promise<{
  pair: Pair;
  alice: { mic: FakeTrack; cam: FakeTrack };
  bob: { mic: FakeTrack; cam: FakeTrack };
}> {
  const pair = new Pair();
  const alice = pair.addMedia('alice');
  const bob = pair.addMedia('bob');
  await pair.settle();
  expectConnected(pair);
  return { pair, alice, bob };
}

describe('politeness', () => {
  it('makes exactly one side of a pair polite, the same way on both sides', () => {
    expect(isPolite('alice', 'bob')).toBe(true);
    expect(isPolite('bob', 'alice')).toBe(false);
    expect(isPolite('owner-x', 'p_1')).not.toBe(isPolite('p_1', 'owner-x'));
  });
});

describe('glare', () => {
  it('resolves simultaneous offers: the polite side rolls back and answers, the impolite ignores', async () => {
    const pair = new Pair();
    expect(pair.a.polite).toBe(true);
    expect(pair.b.polite).toBe(false);
    const alice = pair.addMedia('alice');
    const bob = pair.addMedia('bob');

    // Both make their offers before either hears from the other.
    for (let i = 0; i < 20 && pair.offersSent('alice') + pair.offersSent('bob') < 2; i++) {
      await nextTask();
    }
    expect(pair.pcA.signalingState).toBe('have-local-offer');
    expect(pair.pcB.signalingState).toBe('have-local-offer');
    expect(pair.wire.filter(m => m.message.type === 'sdp-offer')).toHaveLength(2);

    await pair.settle();

    expectConnected(pair);
    expect(pair.a.stats.offersAcceptedInGlare).toBe(1);
    expect(pair.pcA.log).toContain('implicit rollback');
    expect(pair.b.stats.offersIgnored).toBe(1);
    expect(pair.pcB.rollbacks).toBe(0);
    // Bob's offer won; Alice's tracks rode in her answer, so no second round was needed.
    expect(pair.a.stats.answersSent).toBe(1);
    expect(pair.b.stats.answersSent).toBe(0);
    expect(sources(pair.pcA)).toEqual(new Set([bob.mic, bob.cam]));
    expect(sources(pair.pcB)).toEqual(new Set([alice.mic, alice.cam]));
    expect(pair.errors).toEqual([]);
  });

  it('resolves an offer that arrives while the local offer is still being made', async () => {
    const pair = new Pair();
    pair.addMedia('bob');
    // Bob's offer is on the wire; Alice starts her own and gets Bob's mid-way (makingOffer).
    for (let i = 0; i < 20 && pair.offersSent('bob') === 0; i++) {
      await nextTask();
    }
    const alice = pair.addMedia('alice');
    await microtasks(1); // negotiationneeded fired, setLocalDescription in progress
    expect(pair.pcA.signalingState).toBe('stable');
    pair.deliverNext('alice');
    await pair.settle();

    expectConnected(pair);
    expect(sources(pair.pcB)).toEqual(new Set([alice.mic, alice.cam]));
    expect(pair.pcA.received).toHaveLength(2);
    expect(pair.errors).toEqual([]);
  });

  it('when the impolite side also has an offer pending, it ignores the polite side and wins', async () => {
    const pair = new Pair();
    pair.addMedia('alice');
    for (let i = 0; i < 20 && pair.offersSent('alice') === 0; i++) {
      await nextTask();
    }
    const bob = pair.addMedia('bob');
    for (let i = 0; i < 20 && pair.offersSent('bob') === 0; i++) {
      await nextTask();
    }
    // Alice's offer reaches Bob first: he has his own pending and is impolite.
    pair.deliverNext('bob');
    await nextTask();
    expect(pair.b.stats.offersIgnored).toBe(1);
    await pair.settle();
    expectConnected(pair);
    expect(sources(pair.pcA)).toEqual(new Set([bob.mic, bob.cam]));
    expect(pair.errors).toEqual([]);
  });

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))(
    'converges under a random interleaving of offers, answers and candidates (seed %i)',
    async seed => {
      const random = seeded(seed);
      const pair = new Pair();
      const alice = pair.addMedia('alice');
      let bob: { mic: FakeTrack; cam: FakeTrack } | null = null;
      const bobJoinsAt = Math.floor(random() * 30);
      const restartAt = random() < 0.3 ? 40 + Math.floor(random() * 40) : -1;
      for (let step = 0; step < 150; step++) {
        if (step === bobJoinsAt) {
          bob = pair.addMedia('bob');
        }
        if (step === restartAt) {
          (random() < 0.5 ? pair.a : pair.b).restartIce('test');
        }
        const r = random();
        if (r < 0.3) {
          pair.deliverNext('alice');
        } else if (r < 0.6) {
          pair.deliverNext('bob');
        } else if (r < 0.85) {
          await microtasks(1);
        } else {
          await nextTask();
        }
      }
      await pair.settle();

      expectConnected(pair);
      expect(bob).not.toBeNull();
      if (bob !== null) {
        expect(sources(pair.pcA)).toEqual(new Set([bob.mic, bob.cam]));
      }
      expect(sources(pair.pcB)).toEqual(new Set([alice.mic, alice.cam]));
      expect(pair.errors).toEqual([]);
    }
  );
});

describe('trickled ICE', () => {
  it('sends each candidate and then end-of-candidates as an empty candidate', async () => {
    const { pair } = await connectedPair();
    const candidates = pair.sent.alice.filter(m => m.type === 'ice-candidate');
    expect(candidates.length).toBeGreaterThanOrEqual(2);
    const [first] = candidates;
    expect(first.type === 'ice-candidate' && first.payload.candidate).toMatch(/^candidate:/);
    expect(candidates[candidates.length - 1]).toEqual({
      type: 'ice-candidate',
      payload: { candidate: '' }
    });
    expect(pair.pcB.log).toContain('end-of-candidates');
  });
});

describe('ICE generations', () => {
  it('reads the ICE usernames of an SDP', () => {
    const sdp = [
      'v=0',
      'o=- 1 2 IN IP4 127.0.0.1',
      'a=ice-ufrag:sess',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      'a=ice-ufrag:AbC+/1',
      'a=ice-pwd:secret',
      'm=video 9 UDP/TLS/RTP/SAVPF 96',
      'a=ice-ufrag:AbC+/1',
      ''
    ].join('\r\n');
    expect(iceUfrags(sdp)).toEqual(['sess', 'AbC+/1']);
    expect(iceUfrags('v=0\r\n')).toEqual([]);
  });

  it('skips a late candidate of the generation before an ICE restart', async () => {
    const { pair } = await connectedPair();
    const oldUfrag = pair.pcB.localUfrag;
    pair.pcA.breakIce('failed');
    await pair.settle();
    expect(pair.pcB.localUfrag).not.toBe(oldUfrag);

    await pair.a.handle({
      type: 'ice-candidate',
      payload: {
        candidate: 'candidate:9 1 udp 2122260223 127.0.0.1 40999 typ host',
        sdpMid: '0',
        sdpMLineIndex: 0,
        usernameFragment: oldUfrag
      }
    });
    expect(pair.a.stats.staleCandidates).toBe(1);
    expect(pair.errors).toEqual([]);
    expectConnected(pair);
  });
});

describe('ICE restart', () => {
  it('restarts at once when ICE fails, with new credentials on both sides', async () => {
    const { pair } = await connectedPair();
    const before = { a: pair.pcA.localUfrag, b: pair.pcB.localUfrag };
    const offers = pair.offersSent('alice');

    pair.pcA.breakIce('failed');
    expect(pair.a.stats.iceRestarts).toBe(1);
    expect(pair.a.lastRestartReason).toBe('ICE failed');
    await pair.settle();

    expectConnected(pair);
    expect(pair.offersSent('alice')).toBe(offers + 1);
    expect(pair.pcA.localUfrag).not.toBe(before.a);
    expect(pair.pcB.localUfrag).not.toBe(before.b);
    expect(pair.errors).toEqual([]);
  });

  it('restarts when both sides fail at once, through the glare handling, in one round', async () => {
    const { pair } = await connectedPair();
    pair.pcA.breakIce('failed');
    pair.pcB.breakIce('failed');
    await pair.settle();

    expectConnected(pair);
    expect(pair.a.stats.iceRestarts + pair.b.stats.iceRestarts).toBe(2);
    // The polite side's restart is satisfied by answering the other's restart offer.
    expect(pair.pcA.log.filter(line => line === 'restartIce')).toHaveLength(1);
    expect(pair.errors).toEqual([]);
  });

  it('does not restart when a disconnection heals within the timeout', async () => {
    const { pair } = await connectedPair();
    const offers = pair.offersSent('alice') + pair.offersSent('bob');

    pair.pcA.breakIce('disconnected');
    pair.scheduler.advance(2000);
    pair.pcA.healIce();
    pair.scheduler.advance(10_000);
    await pair.settle();

    expect(pair.a.stats.iceRestarts).toBe(0);
    expect(pair.offersSent('alice') + pair.offersSent('bob')).toBe(offers);
    expectConnected(pair);
  });

  it('restarts when a disconnection lasts the timeout, and again while it still lasts', async () => {
    const { pair } = await connectedPair();

    pair.pcA.breakIce('disconnected');
    pair.scheduler.advance(2999);
    expect(pair.a.stats.iceRestarts).toBe(0);
    pair.scheduler.advance(1);
    expect(pair.a.stats.iceRestarts).toBe(1);
    expect(pair.a.lastRestartReason).toBe('ICE disconnected for 3 s');

    // The signaling path is down too: the restart offer does not get through, and ICE stays
    // disconnected, so the timer fires again.
    for (let i = 0; i < 5; i++) {
      await nextTask();
    }
    pair.wire.length = 0;
    pair.scheduler.advance(3000);
    expect(pair.a.stats.iceRestarts).toBe(2);

    // Signaling back: the stuck offer is dropped and a fresh restart goes through.
    await pair.a.recover();
    await pair.settle();
    expectConnected(pair);
    expect(pair.errors).toEqual([]);
  });

  it('restarts when the other side asks with ice-restart', async () => {
    const { pair } = await connectedPair();
    const before = pair.pcB.localUfrag;
    await pair.b.handle({ type: 'ice-restart', payload: { reason: 'my network changed' } });
    expect(pair.b.stats.iceRestarts).toBe(1);
    expect(pair.b.lastRestartReason).toBe('my network changed');
    await pair.settle();
    expectConnected(pair);
    expect(pair.pcB.localUfrag).not.toBe(before);
  });
});

describe('video swap (screen share)', () => {
  it('swaps the outgoing video with replaceTrack, without renegotiating, and back', async () => {
    const { pair, alice } = await connectedPair();
    const offers = pair.offersSent('alice') + pair.offersSent('bob');
    const fired = pair.pcA.negotiationNeededFired + pair.pcB.negotiationNeededFired;
    const seenByBob = pair.pcB.received.find(track => track.kind === 'video');
    expect(seenByBob?.source).toBe(alice.cam);

    const screen = new FakeTrack('video', 'alice-screen');
    await expect(pair.a.swapVideo(screen)).resolves.toBe('replaced');
    await pair.settle();
    expect(seenByBob?.source).toBe(screen);

    await expect(pair.a.swapVideo(alice.cam)).resolves.toBe('replaced');
    await pair.settle();
    expect(seenByBob?.source).toBe(alice.cam);

    expect(pair.a.sender('video')?.track).toBe(alice.cam);
    expect(pair.pcA.negotiationNeededFired + pair.pcB.negotiationNeededFired).toBe(fired);
    expect(pair.offersSent('alice') + pair.offersSent('bob')).toBe(offers);
    // Bob still has the one receiving track he had: no new track event either.
    expect(pair.pcB.received.filter(track => track.kind === 'video')).toHaveLength(1);
  });

  it('adds the video once (one renegotiation) when the call started without a camera', async () => {
    const pair = new Pair();
    const mic = new FakeTrack('audio', 'alice-mic');
    pair.a.addTrack(mic);
    pair.addMedia('bob');
    await pair.settle();
    expectConnected(pair);
    expect(pair.pcB.received.map(track => track.kind)).toEqual(['audio']);

    const screen = new FakeTrack('video', 'alice-screen');
    await expect(pair.a.swapVideo(screen)).resolves.toBe('added');
    await pair.settle();
    const video = pair.pcB.received.find(track => track.kind === 'video');
    expect(video?.source).toBe(screen);

    const offers = pair.offersSent('alice') + pair.offersSent('bob');
    await expect(pair.a.swapVideo(null)).resolves.toBe('replaced');
    await pair.settle();
    expect(video?.source).toBeNull();
    expect(pair.offersSent('alice') + pair.offersSent('bob')).toBe(offers);
    expect(pair.errors).toEqual([]);
  });
});

describe('lifecycle', () => {
  it('recovers an offer whose answer was lost by offering again', async () => {
    const pair = new Pair();
    pair.addMedia('alice');
    for (let i = 0; i < 20 && pair.offersSent('alice') === 0; i++) {
      await nextTask();
    }
    pair.wire.length = 0; // lost with the socket
    expect(pair.pcA.signalingState).toBe('have-local-offer');

    await pair.a.recover();
    await pair.settle();
    expectConnected(pair);
    expect(pair.offersSent('alice')).toBe(2);
  });

  it('closes the peer connection on dispose and ignores later messages', async () => {
    const { pair } = await connectedPair();
    pair.a.dispose();
    expect(pair.pcA.closed).toBe(true);
    expect(pair.pcA.onicecandidate).toBeNull();
    await pair.a.handle({ type: 'ice-restart', payload: {} });
    expect(pair.a.stats.iceRestarts).toBe(0);
  });
});
