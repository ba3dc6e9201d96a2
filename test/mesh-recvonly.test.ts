// The call mesh (src/media/mesh.ts) for someone without a camera or microphone: the legs it starts
// ask to receive what it does not send, so that an offer goes out at all (staff never call a
// candidate first). The fake peers do not model transceivers: the calls are recorded.
import { describe, expect, it } from '@jest/globals';

import { Mesh } from '../src/media/mesh';
import { FakeStream, FakeTrack, FakeWorld } from './fakes/peer';
import { FakeRoomServer } from './fakes/room-server';

async function join(
  server: FakeRoomServer,
  world: FakeWorld,
  calls: string[],
  id: string,
  role: 'interviewer' | 'candidate',
  media: { audio: boolean; video: boolean }
): Promise<Mesh<FakeTrack, FakeStream>> {
  const mesh = new Mesh<FakeTrack, FakeStream>({
    port: server.join(id, role),
    createPeer: remote => {
      const pc = world.createPeer(`${id}->${remote}`);
      return Object.assign(pc, {
        addTransceiver: (kind: 'audio' | 'video', init: { direction: string }) => {
          calls.push(`${id}->${remote} ${kind} ${init.direction}`);
        }
      });
    }
  });
  await mesh.setLocalMedia({
    stream: new FakeStream(id),
    audio: media.audio ? new FakeTrack('audio', `${id}-mic`) : null,
    video: media.video ? new FakeTrack('video', `${id}-cam`) : null
  });
  return mesh;
}

describe('Mesh without local media', () => {
  it('asks to receive audio and video on the legs a track-less candidate starts', async () => {
    const world = new FakeWorld();
    const server = new FakeRoomServer();
    const calls: string[] = [];
    await join(server, world, calls, 'iv', 'interviewer', { audio: true, video: true });
    await server.settle();
    await join(server, world, calls, 'cand', 'candidate', { audio: false, video: false });
    await server.settle();
    expect(calls).toEqual(['cand->iv audio recvonly', 'cand->iv video recvonly']);
  });

  it('asks only for the missing kind, and nothing on legs it answers or when it sends both', async () => {
    const world = new FakeWorld();
    const server = new FakeRoomServer();
    const calls: string[] = [];
    await join(server, world, calls, 'iv', 'interviewer', { audio: true, video: true });
    await server.settle();
    await join(server, world, calls, 'cand', 'candidate', { audio: true, video: false });
    await server.settle();
    await join(server, world, calls, 'iv2', 'interviewer', { audio: true, video: true });
    await server.settle();
    // cand starts its legs (video missing); iv2 starts the one to iv, with both kinds: no call.
    expect(calls.sort()).toEqual(['cand->iv video recvonly', 'cand->iv2 video recvonly']);
  });
});
