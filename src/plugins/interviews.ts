/**
 * The interviews plugin: a sidebar panel listing the interviews, for the owner on a plain lab
 * page (all rooms, and creating new ones) and for interviewers on their room's page.
 */

import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { PluginIDs } from '../ids';
import { IRoomRecord, roomsAPI } from '../state/api';
import { InterviewsModel } from '../state/interviews';
import { IRoomModel } from '../tokens';
import { TRANSLATION_DOMAIN } from '../widgets/common';
import { DEFAULT_LANGUAGES, ILanguageChoice, InterviewsPanel } from '../widgets/interviews';

/** Room languages from the interview kernelspecs the lab has loaded, else the documented list. */
function languages(app: JupyterFrontEnd): ReadonlyArray<ILanguageChoice> {
  const specs = app.serviceManager.kernelspecs.specs?.kernelspecs ?? {};
  const known = new Set(DEFAULT_LANGUAGES.map(l => l.value));
  const found: ILanguageChoice[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const value = name.replace(/^interview-/, '');
    if (spec === undefined || !name.startsWith('interview-') || !known.has(value)) {
      continue;
    }
    const ours = (spec.metadata?.jupyter_interview ?? {}) as { unavailable?: unknown };
    if (typeof ours.unavailable !== 'string') {
      found.push({ value, label: spec.display_name });
    }
  }
  return found.length > 0 ? found.sort((a, b) => a.label.localeCompare(b.label)) : DEFAULT_LANGUAGES;
}

export const interviewsPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.interviews,
  description: 'The Interviews panel: create interviews, copy their links, start and end them.',
  autoStart: true,
  requires: [IRoomModel, ILabShell],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    room: IRoomModel,
    shell: ILabShell,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const open = (record: IRoomRecord): void => {
      const url = URLExt.join(PageConfig.getBaseUrl(), 'lab/tree', record.notebook_path);
      window.open(url, '_blank', 'noopener');
    };
    let added = false;
    const add = (): void => {
      const role = room.me?.role ?? null;
      // A page with no room is the owner's; a room page shows its room to its staff.
      if (added || (room.roomId !== null && role !== 'interviewer' && role !== 'owner')) {
        return;
      }
      added = true;
      const model = new InterviewsModel({ api: roomsAPI, roomId: room.roomId });
      const panel = new InterviewsPanel(model, trans, () => languages(app), open);
      shell.add(panel, 'left', { rank: 50 });
    };
    if (room.roomId === null || room.me !== null) {
      add();
    }
    room.changed.connect(add);
  }
};
