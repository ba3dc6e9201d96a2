/** What the interview views share: the translation bundle, re-rendering on signals, a video element. */

import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

/** The extension's translation domain. */
export const TRANSLATION_DOMAIN = 'jupyter_interview';

export const TransContext = React.createContext<TranslationBundle>(
  nullTranslator.load(TRANSLATION_DOMAIN)
);

export function useTrans(): TranslationBundle {
  return React.useContext(TransContext);
}

/** Re-render whenever one of `signals` fires (several models feed most views). */
export function useSignals(...signals: Array<ISignal<unknown, unknown>>): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const slot = (): void => setTick(t => t + 1);
    for (const signal of signals) {
      signal.connect(slot);
    }
    return () => {
      for (const signal of signals) {
        signal.disconnect(slot);
      }
    };
    // The signals are stable objects of long-lived models.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, signals);
}

/** Re-render every `ms` while mounted (clocks, meters). */
export function useTick(ms: number): number {
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    const handle = window.setInterval(() => setTick(t => t + 1), ms);
    return () => window.clearInterval(handle);
  }, [ms]);
  return tick;
}

export interface IVideoProps {
  stream: MediaStream | null;
  muted?: boolean;
  mirrored?: boolean;
  testid: string;
  label: string;
  className?: string;
}

/** A `<video>` showing `stream` (srcObject cannot be set through a React prop). */
export function Video(props: IVideoProps): JSX.Element {
  const ref = React.useRef<HTMLVideoElement>(null);
  React.useEffect(() => {
    const video = ref.current;
    if (video !== null && video.srcObject !== props.stream) {
      video.srcObject = props.stream;
      if (props.stream !== null) {
        video.play().catch(() => {
          // Autoplay with sound may wait for a user gesture; the Join click usually was one.
        });
      }
    }
  }, [props.stream]);
  const classes = ['jp-Interview-video'];
  if (props.mirrored) {
    classes.push('jp-mod-mirrored');
  }
  if (props.className) {
    classes.push(props.className);
  }
  return (
    <video
      ref={ref}
      className={classes.join(' ')}
      data-testid={props.testid}
      aria-label={props.label}
      autoPlay
      playsInline
      muted={props.muted ?? false}
    />
  );
}

export interface IToggleProps {
  testid: string;
  pressed: boolean;
  label: string;
  icon: React.ReactNode;
  onClick: () => void;
  disabled?: boolean;
  title?: string;
  danger?: boolean;
}

/** A toggle button with `aria-pressed` (mic, camera, screen, hand). */
export function Toggle(props: IToggleProps): JSX.Element {
  const classes = ['jp-Interview-toggle'];
  if (props.pressed) {
    classes.push('jp-mod-pressed');
  }
  if (props.danger) {
    classes.push('jp-mod-danger');
  }
  return (
    <button
      type="button"
      className={classes.join(' ')}
      data-testid={props.testid}
      aria-pressed={props.pressed}
      aria-label={props.label}
      title={props.title ?? props.label}
      disabled={props.disabled}
      onClick={props.onClick}
    >
      {props.icon}
    </button>
  );
}

/** Local time of a server timestamp (seconds), `14:05`. */
export function clockTime(ts: number): string {
  const d = new Date(ts * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}
