// The lobby's decisions (src/state/lobby.ts) and the texts it shares with the lab's views
// (src/widgets/texts.ts). The local media is a fake: Node has no camera; the real one runs in the
// Chromium tests (tests/test_e2e_lobby.py).
import { describe, expect, it } from '@jest/globals';

import { Signal } from '@lumino/signaling';

import { LocalMedia } from '../src/media/local';
import { LobbyModel } from '../src/state/lobby';
import type { InterviewSession } from '../src/state/session';
import { LobbyView, driveLobby } from '../src/widgets/lobby';
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

describe('driveLobby', () => {
  // A fake session with the signals and fields driveLobby reads; the lobby view is a recorder.
  function setup(role: string) {
    const { model } = lobby(role);
    const shown: boolean[] = [];
    const view = {
      model,
      show: () => shown.push(true),
      hide: () => shown.push(false)
    } as unknown as LobbyView;
    const owner = {};
    const session = {
      screen: 'device-check' as string,
      joins: 0,
      prepares: 0,
      record: null,
      streams: new Map<string, MediaStream>(),
      screenChanged: new Signal<unknown, string>(owner),
      recordChanged: new Signal<unknown, void>(owner),
      streamsChanged: new Signal<unknown, void>(owner),
      room: {
        myRole: role,
        participants: new Map(),
        changed: new Signal<unknown, void>(owner),
        participantsChanged: new Signal<unknown, void>(owner)
      },
      join() {
        this.joins += 1;
      },
      prepare() {
        this.prepares += 1;
      }
    };
    const handOff = driveLobby(view, session as unknown as InterviewSession);
    const move = (screen: string): void => {
      session.screen = screen;
      session.screenChanged.emit(screen);
    };
    return { model, session, handOff, shown, move };
  }

  it('keeps a Join pressed before the lab has restored, and carries it out then', () => {
    const { model, session, handOff } = setup('candidate');
    model.setAcknowledged(true);
    model.join();
    expect(session.joins).toBe(0);
    handOff.labReady();
    expect(session.joins).toBe(1);
  });

  it('joins at once once the lab is ready, and not before Join', () => {
    const { model, session, handOff } = setup('interviewer');
    handOff.labReady();
    expect(session.joins).toBe(0);
    model.join();
    expect(session.joins).toBe(1);
  });

  it('stays over the page until the lab shows its own screens, and over the call until the panel', () => {
    const { shown, move, handOff } = setup('candidate');
    expect(shown.at(-1)).toBe(true); // the device check
    move('waiting');
    expect(shown.at(-1)).toBe(true); // the lab's waiting room is not on the page yet
    handOff.screensShown();
    expect(shown.at(-1)).toBe(false);
    move('room');
    handOff.panelShown();
    expect(shown.at(-1)).toBe(false);
  });

  it('shows the call of a joined lobby until the panel does', () => {
    const { shown, move, handOff } = setup('candidate');
    handOff.screensShown();
    move('joining');
    move('room');
    expect(shown.at(-1)).toBe(true);
    handOff.panelShown();
    expect(shown.at(-1)).toBe(false);
  });
});
