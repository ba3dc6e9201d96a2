/**
 * Texts shared by the lab's views and the lobby, with no JupyterLab import: the lobby shows before
 * the lab (and its translation service) has loaded, and takes the lab's bundle once it has.
 */

/** What the views need of a translation bundle (`TranslationBundle` from @jupyterlab/translation is one). */
export interface ITrans {
  __(msgid: string, ...args: unknown[]): string;
}

/** The source strings (the msgids are English), `%1`... filled in, until the lab's bundle is here. */
export const sourceTrans: ITrans = {
  __(msgid: string, ...args: unknown[]): string {
    return msgid.replace(/%(\d+)/g, (whole, n: string) => {
      const value = args[Number(n) - 1];
      return value === undefined ? whole : String(value);
    });
  }
};

/** Why we send less than we would like (a missing or refused camera or microphone), or null. */
export function mediaProblemText(trans: ITrans, camera: string | null, mic: string | null): string | null {
  const parts: string[] = [];
  if (camera === 'camera-denied') {
    parts.push(trans.__('Camera permission was refused: others will not see you.'));
  } else if (camera === 'camera-busy') {
    parts.push(trans.__('The camera is in use by another program.'));
  } else if (camera === 'no-camera') {
    parts.push(trans.__('No camera found: you take part with audio only.'));
  } else if (camera === 'unsupported') {
    parts.push(trans.__('This browser cannot use a camera or microphone here: you can only watch and listen.'));
  }
  if (mic === 'microphone-denied') {
    parts.push(trans.__('Microphone permission was refused: others will not hear you.'));
  } else if (mic === 'microphone-busy') {
    parts.push(trans.__('The microphone is in use by another program.'));
  } else if (mic === 'no-microphone') {
    parts.push(trans.__('No microphone found: others will not hear you.'));
  }
  return parts.length === 0 ? null : parts.join(' ');
}
