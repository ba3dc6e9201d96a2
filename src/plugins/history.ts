/**
 * The history plugin (interviewers and the owner; never candidates, whom the server refuses
 * anyway): commands that open the room's version history and its session replay in the main
 * area beside the room's notebook, in the command palette and as buttons on the room notebook's
 * toolbar (the interview panel's History button runs the same command).
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ToolbarButton } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { PluginIDs } from '../ids';
import { HistoryModel, ReplayModel, historyAPI } from '../state/history';
import { IRoomModel } from '../tokens';
import { TRANSLATION_DOMAIN } from '../widgets/common';
import { HistoryWidget } from '../widgets/history/history';
import { historyIcon, replayIcon } from '../widgets/history/icons';
import { ReplayWidget } from '../widgets/history/replay';

export const CommandIDs = {
  openHistory: 'jupyter-interview:open-history',
  openReplay: 'jupyter-interview:open-replay'
} as const;

const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const historyPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.history,
  description: "The room's version history and session replay, for interviewers and the owner.",
  autoStart: true,
  requires: [IRoomModel],
  optional: [ITranslator, ICommandPalette, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    room: IRoomModel,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    tracker: INotebookTracker | null
  ): void => {
    // The server names an invite's role in the page config; candidates get nothing of this.
    const pageRole = PageConfig.getOption('interviewRole');
    if (pageRole === 'candidate') {
      return;
    }
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const role = (): string | null => room.me?.role ?? (pageRole || null);
    const allowed = (): boolean => role() !== 'candidate';
    const roomOf = (args: ReadonlyPartialJSONObject): string | null => {
      const given = args.roomId;
      if (typeof given === 'string' && ROOM_ID.test(given)) {
        return given;
      }
      return room.roomId;
    };
    const open = new Map<string, Widget>();
    const show = (roomId: string, key: string, make: () => Widget): void => {
      let widget = open.get(key);
      if (widget === undefined || widget.isDisposed) {
        widget = make();
        open.set(key, widget);
        widget.disposed.connect(() => open.delete(key));
        // A tab beside the room's notebook when it is open. Added after the current widget
        // instead, it would cover the interview panel (the call) when opened from the panel.
        const notebook = tracker?.find(nb => nb.context.path.startsWith(`interviews/${roomId}/`));
        app.shell.add(
          widget,
          'main',
          notebook === undefined ? undefined : { mode: 'tab-after', ref: notebook.id }
        );
      }
      app.shell.activateById(widget.id);
    };

    app.commands.addCommand(CommandIDs.openHistory, {
      label: trans.__('Version History'),
      caption: trans.__("Snapshots of the interview notebook: view, compare, checkpoint, restore"),
      icon: args => (args.toolbar ? historyIcon : undefined),
      isEnabled: args => allowed() && roomOf(args) !== null,
      isVisible: () => allowed(),
      execute: args => {
        const roomId = roomOf(args);
        if (roomId === null || !allowed()) {
          return;
        }
        const openReplay = (): void => void app.commands.execute(CommandIDs.openReplay, { roomId });
        show(
          roomId,
          `history:${roomId}`,
          () => new HistoryWidget(new HistoryModel({ api: historyAPI, roomId }), trans, openReplay)
        );
      }
    });
    app.commands.addCommand(CommandIDs.openReplay, {
      label: trans.__('Session Replay'),
      caption: trans.__('Replay the interview: the notebook, executions and chat at every moment'),
      icon: args => (args.toolbar ? replayIcon : undefined),
      isEnabled: args => allowed() && roomOf(args) !== null,
      isVisible: () => allowed(),
      execute: args => {
        const roomId = roomOf(args);
        if (roomId === null || !allowed()) {
          return;
        }
        show(
          roomId,
          `replay:${roomId}`,
          () => new ReplayWidget(new ReplayModel({ api: historyAPI, roomId }), trans)
        );
      }
    });
    const category = trans.__('Interview');
    palette?.addItem({ command: CommandIDs.openHistory, category });
    palette?.addItem({ command: CommandIDs.openReplay, category });

    // Buttons on the room notebook's toolbar, once the server confirmed the role.
    const roomId = room.roomId;
    if (tracker === null || roomId === null) {
      return;
    }
    const decorated = new WeakSet<NotebookPanel>();
    const decorate = (panel: NotebookPanel): void => {
      const role = room.me?.role;
      if (
        decorated.has(panel) ||
        (role !== 'interviewer' && role !== 'owner') ||
        !panel.context.path.startsWith(`interviews/${roomId}/`)
      ) {
        return;
      }
      decorated.add(panel);
      const buttons: Array<[string, string, string]> = [
        ['ji-open-history', CommandIDs.openHistory, trans.__('History')],
        ['ji-open-replay', CommandIDs.openReplay, trans.__('Replay')]
      ];
      for (const [testid, command, label] of buttons) {
        const button = new ToolbarButton({
          icon: command === CommandIDs.openHistory ? historyIcon : replayIcon,
          label,
          tooltip: app.commands.caption(command),
          onClick: () => void app.commands.execute(command)
        });
        button.node.dataset.testid = testid;
        panel.toolbar.addItem(testid, button);
      }
    };
    const decorateAll = (): void => tracker.forEach(decorate);
    tracker.widgetAdded.connect((_, panel) => decorate(panel));
    room.changed.connect(decorateAll);
    decorateAll();
  }
};
