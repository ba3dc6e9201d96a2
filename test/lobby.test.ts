// The lobby's decisions (src/state/lobby.ts) and the texts it shares with the lab's views
// (src/widgets/texts.ts). The local media is a fake: Node has no camera; the real one runs in the
// Chromium tests (tests/test_e2e_lobby.py).
import { describe, expect, it } from '@jest/globals';

import { LocalMedia } from '../src/media/local';
import { LobbyModel } from '../src/state/lobby';
import { mediaProblemText, sourceTrans } from '../src/widgets/texts';

function fakeMedia(): { media: LocalMedia; starts: () => number } {
  let starts = 0;
  const media = {
    start: async () => {
      starts += 1;
    }
  } as unknown as LocalMedia;
  return { media, starts: () => starts };
}

function lobby(role: string | null): { model: LobbyModel; starts: () => number } {
  const { media, starts } = fakeMedia();
  return { model: new LobbyModel({ role, title: 'Two sum', media }), starts };
}

describe('LobbyModel', () => {
  it('lets a candidate join only after acknowledging the recording', () => {
    const { model } = lobby('candidate');
    let requested = 0;
    model.joinRequested.connect(() => (requested += 1));
    expect(model.needsAcknowledgement).toBe(true);
    expect(model.canJoin).toBe(false);
    expect(model.join()).toBe(false);
    expect(model.joined).toBe(false);
    model.setAcknowledged(true);
    expect(model.canJoin).toBe(true);
    expect(model.join()).toBe(true);
    expect(model.joined).toBe(true);
    expect(requested).toBe(1);
  });

  it('asks for Join once, however often it is pressed', () => {
    const { model } = lobby('interviewer');
    let requested = 0;
    model.joinRequested.connect(() => (requested += 1));
    expect(model.needsAcknowledgement).toBe(false);
    expect(model.join()).toBe(true);
    expect(model.join()).toBe(false);
    expect(model.canJoin).toBe(false);
    expect(requested).toBe(1);
  });

  it('keeps the acknowledgement once joined', () => {
    const { model } = lobby('candidate');
    model.setAcknowledged(true);
    model.join();
    model.setAcknowledged(false);
    expect(model.acknowledged).toBe(true);
  });

  it('requires the acknowledgement when the role turns out to be candidate', () => {
    const { model } = lobby(null);
    expect(model.canJoin).toBe(true);
    let changes = 0;
    model.changed.connect(() => (changes += 1));
    model.setRole('candidate');
    expect(model.canJoin).toBe(false);
    model.setRole('candidate');
    expect(changes).toBe(1);
  });

  it('tells the view of the call only when who or what it shows changes', () => {
    const { model } = lobby('candidate');
    let changes = 0;
    model.changed.connect(() => (changes += 1));
    const stream = {} as MediaStream;
    model.setPeers([{ id: 'a', name: 'Ada', stream }]);
    model.setPeers([{ id: 'a', name: 'Ada', stream }]);
    expect(changes).toBe(1);
    model.setPeers([{ id: 'a', name: 'Ada Lovelace', stream }]);
    model.setPeers([]);
    expect(changes).toBe(3);
    expect(model.peers).toEqual([]);
  });

  it('starts the camera and microphone once', async () => {
    const { model, starts } = lobby('candidate');
    await Promise.all([model.startMedia(), model.startMedia()]);
    await model.startMedia();
    expect(starts()).toBe(1);
  });
});

describe('texts', () => {
  it('fills %1... in source strings and leaves unknown ones', () => {
    expect(sourceTrans.__('Before you join: %1', 'Two sum')).toBe('Before you join: Two sum');
    expect(sourceTrans.__('%1 and %2', 'a')).toBe('a and %2');
  });

  it('says why a camera or microphone is missing, both at once', () => {
    expect(mediaProblemText(sourceTrans, null, null)).toBeNull();
    const text = mediaProblemText(sourceTrans, 'camera-denied', 'no-microphone');
    expect(text).toContain('Camera permission was refused');
    expect(text).toContain('No microphone found');
  });
});
