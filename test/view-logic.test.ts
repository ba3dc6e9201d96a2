// The views' pure decisions (src/widgets/logic.ts, src/state/phase.ts): the timer's display state,
// the narrow-width collapse, typing text, when chat counts as read, and which screen shows.
import { describe, expect, it } from '@jest/globals';

import { TimerSnapshot } from '../src/state/clock';
import { accessOfLevel, fileAccess, screenFor } from '../src/state/phase';
import {
  COLLAPSE_BELOW_PX,
  COLLAPSE_HYSTERESIS_PX,
  chatIsVisible,
  panelLayout,
  timerView,
  typingText
} from '../src/widgets/logic';

const T0 = 1_700_000_000;

function running(duration_s: number, elapsed_s: number, server_now = T0): TimerSnapshot {
  return {
    status: 'running',
    duration_s,
    elapsed_s,
    started_at: server_now - elapsed_s,
    ends_at: server_now + duration_s - elapsed_s,
    server_now
  };
}

describe('timerView', () => {
  it('shows idle with nothing left before any timer exists', () => {
    expect(timerView(null, T0)).toEqual({ state: 'idle', remainingMs: 0, warning: false, label: '0:00' });
  });

  it('counts down a running timer in whole milliseconds, from server time', () => {
    const view = timerView(running(45 * 60, 0), T0 + 10.25);
    expect(view.state).toBe('running');
    expect(view.remainingMs).toBe(45 * 60 * 1000 - 10_250);
    expect(view.label).toBe('44:50');
    expect(view.warning).toBe(false);
  });

  it('turns red in the last five minutes, not before and not once expired', () => {
    const timer = running(45 * 60, 0);
    expect(timerView(timer, T0 + 40 * 60 - 1).warning).toBe(false);
    expect(timerView(timer, T0 + 40 * 60).warning).toBe(true);
    expect(timerView(timer, T0 + 45 * 60 - 1).warning).toBe(true);
    const over = timerView(timer, T0 + 45 * 60 + 3);
    expect(over.state).toBe('expired');
    expect(over.warning).toBe(false);
    expect(over.remainingMs).toBe(0);
  });

  it('holds a paused timer still, red when paused inside the last five minutes', () => {
    const paused: TimerSnapshot = {
      status: 'paused',
      duration_s: 600,
      elapsed_s: 400,
      started_at: null,
      ends_at: null,
      server_now: T0
    };
    expect(timerView(paused, T0 + 1000)).toEqual({
      state: 'paused',
      remainingMs: 200_000,
      warning: true,
      label: '3:20'
    });
  });

  it('shows the server saying expired as expired', () => {
    const expired: TimerSnapshot = { ...running(60, 60), status: 'expired' };
    expect(timerView(expired, T0).state).toBe('expired');
  });
});

describe('panelLayout', () => {
  it('splits at full width and becomes a tab below 900 px', () => {
    expect(panelLayout(1400, null)).toBe('split');
    expect(panelLayout(COLLAPSE_BELOW_PX, null)).toBe('split');
    expect(panelLayout(COLLAPSE_BELOW_PX - 1, null)).toBe('tab');
    expect(panelLayout(600, 'split')).toBe('tab');
  });

  it('does not flap around the threshold: a tab splits again only clearly wider', () => {
    expect(panelLayout(COLLAPSE_BELOW_PX + 10, 'tab')).toBe('tab');
    expect(panelLayout(COLLAPSE_BELOW_PX + COLLAPSE_HYSTERESIS_PX, 'tab')).toBe('split');
    expect(panelLayout(COLLAPSE_BELOW_PX + 10, 'split')).toBe('split');
  });
});

describe('chat read state and typing text', () => {
  it('counts chat as read only when the panel, the chat tab and the page are all visible', () => {
    expect(chatIsVisible({ panelVisible: true, tab: 'chat', pageVisible: true })).toBe(true);
    expect(chatIsVisible({ panelVisible: false, tab: 'chat', pageVisible: true })).toBe(false);
    expect(chatIsVisible({ panelVisible: true, tab: 'notes', pageVisible: true })).toBe(false);
    expect(chatIsVisible({ panelVisible: true, tab: 'chat', pageVisible: false })).toBe(false);
  });

  it('names who is typing', () => {
    expect(typingText([])).toBe('');
    expect(typingText(['Ada'])).toBe('Ada is typing…');
    expect(typingText(['Ada', 'Bo'])).toBe('Ada and Bo are typing…');
    expect(typingText(['Ada', 'Bo', 'Cy'])).toBe('3 people are typing…');
  });
});

describe('screenFor and fileAccess', () => {
  const base = {
    joined: true,
    welcomed: true,
    role: 'candidate',
    status: 'admitted',
    roomState: 'live',
    closed: false
  };

  it('walks a candidate from the device check through the waiting room to the end screen', () => {
    expect(screenFor({ ...base, joined: false, welcomed: false })).toBe('device-check');
    expect(screenFor({ ...base, welcomed: false })).toBe('joining');
    expect(screenFor({ ...base, status: 'waiting', roomState: 'waiting' })).toBe('waiting');
    // Admitted before Start: still waiting, for the interview this time.
    expect(screenFor({ ...base, roomState: 'waiting' })).toBe('waiting');
    expect(screenFor(base)).toBe('room');
    expect(screenFor({ ...base, roomState: 'ended' })).toBe('ended');
    expect(screenFor({ ...base, status: 'denied', roomState: 'waiting' })).toBe('denied');
    // Opening the page again after End: straight to the end screen, no device check.
    expect(screenFor({ ...base, joined: false, welcomed: false, roomState: 'ended' })).toBe('ended');
    expect(
      screenFor({ ...base, role: 'interviewer', joined: false, welcomed: false, roomState: 'ended' })
    ).toBe('device-check');
  });

  it('keeps interviewers in the room whatever the state, and shows a closed socket', () => {
    const staff = { ...base, role: 'interviewer', status: 'admitted' };
    expect(screenFor({ ...staff, roomState: 'waiting' })).toBe('room');
    expect(screenFor({ ...staff, roomState: 'ended' })).toBe('room');
    expect(screenFor({ ...staff, closed: true })).toBe('closed');
  });

  it("reads the page's access level: after End an interviewer runs code but reads files only", () => {
    expect(accessOfLevel('write')).toBe('write');
    expect(accessOfLevel('execute')).toBe('read');
    expect(accessOfLevel('read')).toBe('read');
    expect(accessOfLevel('none')).toBe('none');
    expect(accessOfLevel('')).toBe('none');
    expect(accessOfLevel(undefined)).toBe('none');
  });

  it('reads file access from the permissions of `me`', () => {
    expect(fileAccess(undefined)).toBe('none');
    expect(fileAccess(['room:read'])).toBe('none');
    expect(fileAccess(['room:read', 'files:read'])).toBe('read');
    expect(fileAccess(['room:read', 'files:read', 'kernels:execute', 'files:write'])).toBe('write');
  });
});
