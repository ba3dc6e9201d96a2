// The call mesh (src/media/mesh.ts): one link per remote participant, made and dropped from the
// room's events, signaling routed by `from`, over fake peer connections and a fake relay.
import { describe, expect, it } from '@jest/globals';

import { Mesh, initiatesCall } from '../src/media/mesh';
import { FakeStream, FakeTrack, FakeWorld } from './fakes/peer';
import { FakePort, FakeRoomServer } from './fakes/room-server';

interface IPerson {
  id: string;
  mesh: Mesh<FakeTrack, FakeStream>;
  mic: FakeTrack;
  cam: FakeTrack;
  port: FakePort;
}

function room() {
  world = new FakeWorld();
  const server = new FakeRoomServer();
  const errors: string[] = [];
  const join = async (id: string, role: 'interviewer' | 'candidate'): Promise<IPerson> => {
    const port = server.join(id, role);
    const mesh = new Mesh<FakeTrack, FakeStream>({
      port,
      createPeer: remote => world.createPeer(`${id}->${remote}`),
      onError: (error, context) => errors.push(`${id}: ${context}: ${String(error)}`)
    });
    const mic = new FakeTrack('audio', `${id}-mic`);
    const cam = new FakeTrack('video', `${id}-cam`);
    await mesh.setLocalMedia({ stream: new FakeStream(id), audio: mic, video: cam });
    return { id, mesh, mic, cam, port };
  };
  return { world, server, errors, join };
}

let world = new FakeWorld();

/** What `viewer` receives from `sender`: the sources of the remote tracks on its open link. */
function receivedFrom(viewer: IPerson, sender: IPerson): Set<FakeTrack | null> {
  const pc = world.peers.find(p => p.name === `${viewer.id}->${sender.id}` && !p.closed);
  return new Set(pc?.received.map(track => track.source));
}

function expectCall(a: IPerson, b: IPerson): void {
  expect(a.mesh.links.get(b.id)?.state.ice).toBe('connected');
  expect(b.mesh.links.get(a.id)?.state.ice).toBe('connected');
  expect(receivedFrom(a, b)).toEqual(new Set([b.mic, b.cam]));
  expect(receivedFrom(b, a)).toEqual(new Set([a.mic, a.cam]));
}

describe('initiatesCall', () => {
  it('has staff call staff and candidates call everyone, never staff a candidate first', () => {
    expect(initiatesCall('interviewer', 'owner')).toBe(true);
    expect(initiatesCall('candidate', 'interviewer')).toBe(true);
    expect(initiatesCall('interviewer', 'candidate')).toBe(false);
    expect(initiatesCall('owner', null)).toBe(false);
  });
});

describe('Mesh', () => {
  it('connects everyone with everyone, whatever the order of joining', async () => {
    const { server, errors, join } = room();
    const i1 = await join('i1', 'interviewer');
    await server.settle();
    const cand = await join('cand', 'candidate');
    await server.settle();
    const i2 = await join('i2', 'interviewer');
    await server.settle();

    for (const [a, b] of [
      [i1, cand],
      [i1, i2],
      [cand, i2]
    ]) {
      expectCall(a, b);
    }
    expect(i1.mesh.links.size).toBe(2);
    expect(errors).toEqual([]);
  });

  it('leaves the offer to the candidate: staff only answer a candidate', async () => {
    const { server, join } = room();
    const i1 = await join('i1', 'interviewer');
    await server.settle();
    const cand = await join('cand', 'candidate');
    await server.settle();
    expectCall(i1, cand);
    const offers = server.log.filter(m => m.type === 'sdp-offer');
    expect(offers.map(m => `${m.from}->${m.to}`)).toEqual(['cand->i1']);
  });

  it('routes each message only to the link of its sender', async () => {
    const { server, join } = room();
    const i1 = await join('i1', 'interviewer');
    const i2 = await join('i2', 'interviewer');
    const i3 = await join('i3', 'interviewer');
    await server.settle();
    expectCall(i1, i2);
    expectCall(i1, i3);
    expectCall(i2, i3);
    // Every relayed message named its recipient.
    const relayed = server.log.filter(m => m.type.startsWith('sdp') || m.type.startsWith('ice'));
    expect(relayed.every(m => m.to !== undefined && m.to !== m.from)).toBe(true);
  });

  it('drops the link of someone who left', async () => {
    const { server, join } = room();
    const i1 = await join('i1', 'interviewer');
    const cand = await join('cand', 'candidate');
    await server.settle();
    const link = i1.mesh.links.get('cand');
    expect(link).toBeDefined();
    server.leave('cand');
    await server.settle();
    expect(i1.mesh.links.has('cand')).toBe(false);
    expect(link?.isDisposed).toBe(true);
    expect(cand.mesh.links.size).toBe(1); // its own side is the page's business
  });

  it('keeps a healthy link when a participant is announced again', async () => {
    const { server, join } = room();
    const i1 = await join('i1', 'interviewer');
    const i2 = await join('i2', 'interviewer');
    await server.settle();
    const link = i1.mesh.links.get('i2');
    server.announce('i2'); // as after a server restart
    await server.settle();
    expect(i1.mesh.links.get('i2')).toBe(link);
    expectCall(i1, i2);
  });

  it("ends the candidate's calls when the interview ends, and keeps the staff's", async () => {
    const { server, join } = room();
    const i1 = await join('i1', 'interviewer');
    const i2 = await join('i2', 'interviewer');
    const cand = await join('cand', 'candidate');
    await server.settle();
    server.end();
    await server.settle();
    expect(cand.mesh.links.size).toBe(0);
    expect([...i1.mesh.links.keys()]).toEqual(['i2']);
    expectCall(i1, i2);
  });

  it('shares a screen with everyone by replaceTrack, with no new offer', async () => {
    const { server, join } = room();
    const i1 = await join('i1', 'interviewer');
    const i2 = await join('i2', 'interviewer');
    const cand = await join('cand', 'candidate');
    await server.settle();
    const offers = server.log.filter(m => m.type === 'sdp-offer').length;

    const screen = new FakeTrack('video', 'cand-screen');
    await cand.mesh.swapVideo(screen);
    await server.settle();
    for (const viewer of [i1, i2]) {
      expect(receivedFrom(viewer, cand)).toEqual(new Set([cand.mic, screen]));
    }
    await cand.mesh.swapVideo(cand.cam);
    await server.settle();
    expect(receivedFrom(i1, cand)).toEqual(new Set([cand.mic, cand.cam]));
    expect(server.log.filter(m => m.type === 'sdp-offer')).toHaveLength(offers);
  });

  it('emits remote tracks with the participant they come from', async () => {
    const { server, join } = room();
    const i1 = await join('i1', 'interviewer');
    const seen: string[] = [];
    i1.mesh.remoteTrack.connect((_, t) => seen.push(`${t.participantId}:${t.track.kind}`));
    await join('i2', 'interviewer');
    await server.settle();
    expect(seen.sort()).toEqual(['i2:audio', 'i2:video']);
  });
});
