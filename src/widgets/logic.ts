/**
 * The decisions the interview views make, as pure functions (no React, no DOM), so that Jest
 * tests them: the timer's display state, the narrow-width collapse, who is typing, when chat
 * counts as read, and which screen a participant sees.
 */

import { TimerSnapshot, formatRemaining, isLastMinutes, isTimeUp, remainingSeconds } from '../state/clock';

export type TimerViewState = 'idle' | 'running' | 'paused' | 'expired';

export interface ITimerView {
  readonly state: TimerViewState;
  /** Whole milliseconds left (the contract's `data-remaining-ms`). */
  readonly remainingMs: number;
  /** Red: started and at most five minutes left. */
  readonly warning: boolean;
  /** `m:ss` or `h:mm:ss`. */
  readonly label: string;
}

/**
 * What the timer shows at server time `serverNow`. A running timer with nothing left shows
 * `expired` at once: the server's `expired` event is on its way, and showing 0:00 as "running"
 * for that moment would be wrong.
 */
export function timerView(timer: TimerSnapshot | null, serverNow: number): ITimerView {
  if (timer === null) {
    return { state: 'idle', remainingMs: 0, warning: false, label: formatRemaining(0) };
  }
  const left = remainingSeconds(timer, serverNow);
  const state: TimerViewState = isTimeUp(timer, serverNow) ? 'expired' : timer.status;
  return {
    state,
    remainingMs: Math.max(0, Math.round(left * 1000)),
    warning: state !== 'expired' && isLastMinutes(timer, serverNow),
    label: formatRemaining(left)
  };
}

export type PanelLayout = 'split' | 'tab';

/** Below this width (px) the panel becomes a tab beside the notebook. */
export const COLLAPSE_BELOW_PX = 900;
/** It splits again only this much wider, so that a window near the edge does not flap. */
export const COLLAPSE_HYSTERESIS_PX = 40;

/** Where the panel goes for a window `width` px wide, given where it is now. */
export function panelLayout(width: number, current: PanelLayout | null): PanelLayout {
  if (current === 'tab') {
    return width >= COLLAPSE_BELOW_PX + COLLAPSE_HYSTERESIS_PX ? 'split' : 'tab';
  }
  return width < COLLAPSE_BELOW_PX ? 'tab' : 'split';
}

export type PanelTab = 'people' | 'chat' | 'notes';

/** Messages count as read only while someone can see them. */
export function chatIsVisible(options: {
  panelVisible: boolean;
  tab: PanelTab;
  pageVisible: boolean;
}): boolean {
  return options.panelVisible && options.tab === 'chat' && options.pageVisible;
}

/** `Ada is typing…`, `Ada and Bo are typing…`, `3 people are typing…`; '' for nobody. */
export function typingText(
  names: string[],
  trans: { __: (text: string, ...args: string[]) => string } = {
    __: (text, ...args) => args.reduce((s, a, i) => s.replace(`%${i + 1}`, a), text)
  }
): string {
  if (names.length === 0) {
    return '';
  }
  if (names.length === 1) {
    return trans.__('%1 is typing…', names[0]);
  }
  if (names.length === 2) {
    return trans.__('%1 and %2 are typing…', names[0], names[1]);
  }
  return trans.__('%1 people are typing…', String(names.length));
}
