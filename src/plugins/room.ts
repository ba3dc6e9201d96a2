/**
 * The room plugin: on an interview page, the interview panel beside the room's notebook (a tab
 * of its own below 900 px), the full-page screens (device check, waiting room, end screen), the
 * reconnecting banner; it opens the notebook once the server lets the user read it, makes it
 * read-only when they may no longer write (a candidate's page then also drops its kernel
 * connection), and keeps a candidate's file browser in the room.
 */

import { EditorView } from '@codemirror/view';
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { CodeMirrorEditor } from '@jupyterlab/codemirror';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { ITranslator, TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { DockLayout, DockPanel, Widget } from '@lumino/widgets';

import { PluginIDs } from '../ids';
import { FileAccess } from '../state/phase';
import { IInterviewSession } from '../tokens';
import { ILanguageOption } from '../widgets/call';
import { TRANSLATION_DOMAIN } from '../widgets/common';
import { PanelLayout, panelLayout } from '../widgets/logic';
import { InterviewPanel } from '../widgets/panel';
import { InterviewScreens, ReconnectingBanner } from '../widgets/screens';
import { CommandIDs as HistoryCommands } from './history';

/** The panel's share of the width beside the notebook. */
const PANEL_SHARE = 0.36;

/** The class on a notebook panel the user may no longer edit. */
const READ_ONLY_CLASS = 'jp-Interview-readOnly';

/** The server's interview languages, from the kernelspecs the lab has already loaded. */
function languageOptions(app: JupyterFrontEnd): ILanguageOption[] {
  const specs = app.serviceManager.kernelspecs.specs?.kernelspecs ?? {};
  const options: ILanguageOption[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (spec === undefined || !name.startsWith('interview-')) {
      continue;
    }
    const ours = (spec.metadata?.jupyter_interview ?? {}) as { unavailable?: unknown };
    options.push({
      value: name.slice('interview-'.length),
      label: spec.display_name,
      unavailable: typeof ours.unavailable === 'string' ? ours.unavailable : undefined
    });
  }
  return options.sort((a, b) => a.label.localeCompare(b.label));
}

/** The lab shell's main dock panel (not public API: the split sizes need it; guarded). */
function mainDock(shell: ILabShell): DockPanel | null {
  const dock = (shell as unknown as { _dockPanel?: unknown })._dockPanel;
  return dock instanceof DockPanel ? dock : null;
}

/** Give `panel` its share of the split it sits in with the notebook. */
function sizeSplit(shell: ILabShell, panel: Widget): void {
  const dock = mainDock(shell);
  if (dock === null) {
    return;
  }
  try {
    const config = dock.saveLayout();
    const visit = (area: DockLayout.AreaConfig | null): boolean => {
      if (area === null || area.type !== 'split-area') {
        return false;
      }
      const at = area.children.findIndex(
        child => child.type === 'tab-area' && child.widgets.includes(panel)
      );
      if (at >= 0 && area.orientation === 'horizontal' && area.children.length > 1) {
        const rest = (1 - PANEL_SHARE) / (area.children.length - 1);
        area.sizes = area.children.map((_, i) => (i === at ? PANEL_SHARE : rest));
        return true;
      }
      return area.children.some(visit);
    };
    if (visit(config.main)) {
      dock.restoreLayout(config);
    }
  } catch (error) {
    console.debug('jupyter-interview: cannot size the interview panel', error);
  }
}

/** Keeps the panel beside the room's notebook: split at full width, a tab when narrow. */
class PanelPlacer {
  constructor(
    private readonly _shell: ILabShell,
    private readonly _panel: InterviewPanel,
    private readonly _notebook: () => NotebookPanel | null
  ) {
    window.addEventListener('resize', this._onResize);
  }

  /** From now on keep the panel placed (the user entered the room). */
  enable(): void {
    this._enabled = true;
    this.place();
  }

  place(): void {
    if (!this._enabled) {
      return;
    }
    const nb = this._notebook();
    const layout = panelLayout(window.innerWidth, this._layout);
    if (nb === null) {
      if (!this._panel.isAttached) {
        this._shell.add(this._panel, 'main', { activate: false });
      }
      return;
    }
    if (layout === this._layout && this._beside === nb.id && this._panel.isAttached) {
      return;
    }
    this._shell.add(this._panel, 'main', {
      mode: layout === 'split' ? 'split-right' : 'tab-after',
      ref: nb.id,
      activate: false
    });
    if (layout === 'split') {
      sizeSplit(this._shell, this._panel);
    }
    this._shell.activateById(nb.id);
    this._layout = layout;
    this._beside = nb.id;
  }

  dispose(): void {
    window.removeEventListener('resize', this._onResize);
    window.clearTimeout(this._timer);
  }

  private readonly _onResize = (): void => {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => this.place(), 150);
  };

  private _enabled = false;
  private _layout: PanelLayout | null = null;
  private _beside: string | null = null;
  private _timer = 0;
}

/**
 * Keeps a notebook on this page without a kernel connection while `release` holds: its session
 * context neither reuses the path's session nor starts one, and a session connection it holds is
 * disposed on the client only (no request: the kernel stays the interviewers' to use or stop, and
 * a candidate may not shut it down anyway). Returns the function that applies it again.
 *
 * Why: after End the server refuses a candidate's kernel socket. JupyterLab kept the old socket,
 * and when it dropped (a network blip) retried it up to seven times, flickered the kernel status
 * and finally said "Kernel died unexpectedly" in a dialog; a reload tried to start a session and
 * said "Error Starting Kernel".
 */
function releaseKernel(
  panel: NotebookPanel,
  release: () => boolean,
  onRunRefused: () => void
): () => void {
  const context = panel.sessionContext;
  // Running a cell without a kernel (Shift+Enter, the Run menu) makes JupyterLab start one and,
  // when that is off, ask for one in a modal "Select Kernel" dialog. Released, the context says it
  // started nothing and wants no choice made; the user is told why instead.
  const startKernel = context.startKernel.bind(context);
  context.startKernel = async (): Promise<boolean> => {
    if (!release()) {
      return startKernel();
    }
    onRunRefused();
    return false;
  };
  const apply = (): void => {
    if (context.isDisposed || !release()) {
      return;
    }
    const preference = context.kernelPreference;
    if (
      preference.canStart !== false ||
      preference.shouldStart !== false ||
      preference.shouldReuse !== false
    ) {
      context.kernelPreference = {
        ...preference,
        canStart: false,
        shouldStart: false,
        shouldReuse: false,
        autoStartDefault: false
      };
    }
    // Disposing the connection closes its socket for good (no reconnect) and leaves the context
    // without a session ("No Kernel"); the preference keeps it so.
    context.session?.dispose();
  };
  // A session the context connects to later (it was initialising at End) goes the same way.
  context.sessionChanged.connect(apply);
  apply();
  return apply;
}

/**
 * Makes a notebook's cells read-only (and keeps new ones so) while `readOnly` holds. Returns the
 * function that applies it again, for when access changes.
 */
function enforceReadOnly(panel: NotebookPanel, readOnly: () => boolean): () => void {
  const frozen = new WeakSet<CodeMirrorEditor>();
  const apply = (): void => {
    const on = readOnly();
    panel.toggleClass(READ_ONLY_CLASS, on);
    if (!on) {
      return; // cells keep their own read-only state (cell metadata `editable`)
    }
    for (const cell of panel.content.widgets) {
      cell.readOnly = true;
      const editor = cell.editor;
      if (editor instanceof CodeMirrorEditor && !frozen.has(editor)) {
        // readOnly stops edits but leaves a caret; not editable says so (the page is read-only
        // for good: access does not come back after End).
        editor.injectExtension(EditorView.editable.of(false));
        frozen.add(editor);
      }
    }
    panel.content.mode = 'command';
  };
  const cellsChanged = (): void => {
    // New cell widgets are made after the model change: apply once they exist.
    window.requestAnimationFrame(apply);
  };
  void panel.context.ready.then(() => {
    apply();
    panel.content.model?.cells.changed.connect(cellsChanged);
    // Cells off screen get their editors when scrolled into view.
    panel.content.cellInViewportChanged.connect(cellsChanged);
  });
  return apply;
}

/** A path of the file browser (which may carry a drive prefix such as `RTC:`) without it. */
function localPath(path: string): string {
  return path.replace(/^[A-Za-z0-9_-]+:/, '').replace(/^\/+/, '');
}

function confineBrowser(
  browser: IDefaultFileBrowser,
  folder: string,
  access: () => FileAccess
): () => void {
  const inRoom = (path: string): boolean => {
    const p = localPath(path);
    return p === folder || p.startsWith(`${folder}/`);
  };
  const back = (): void => {
    if (access() !== 'none' && !inRoom(browser.model.path)) {
      void browser.model.cd(`/${folder}`).catch(error => {
        console.debug('jupyter-interview: cannot show the room folder', error);
      });
    }
  };
  browser.model.pathChanged.connect(back);
  return back;
}

export const roomPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.room,
  description:
    'The interview panel beside the notebook, the device check, waiting room and end screens.',
  autoStart: true,
  requires: [IInterviewSession, ILabShell],
  optional: [INotebookTracker, ITranslator, IDefaultFileBrowser, IRenderMimeRegistry],
  activate: (
    app: JupyterFrontEnd,
    handle: IInterviewSession,
    shell: ILabShell,
    tracker: INotebookTracker | null,
    translator: ITranslator | null,
    browser: IDefaultFileBrowser | null,
    rendermime: IRenderMimeRegistry | null
  ): void => {
    const session = handle.session;
    if (session === null) {
      return;
    }
    const trans: TranslationBundle = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const notebookPath = (): string => session.record?.notebook_path ?? handle.notebookPath ?? '';
    const folder = (): string => notebookPath().split('/').slice(0, -1).join('/');
    const isCandidate = (): boolean => session.room.myRole === 'candidate';

    // Full-page screens and the banner live on the body, above the lab.
    Widget.attach(new InterviewScreens(session, trans), document.body);
    Widget.attach(new ReconnectingBanner(session, trans), document.body);
    handle.lobby.screensShown();

    const languagesChanged = new Signal<unknown, void>(session);
    app.serviceManager.kernelspecs.specsChanged.connect(() => languagesChanged.emit());
    const panel = new InterviewPanel({
      session,
      trans,
      history: {
        available: () =>
          app.commands.hasCommand(HistoryCommands.openHistory) &&
          app.commands.isVisible(HistoryCommands.openHistory),
        open: () => void app.commands.execute(HistoryCommands.openHistory)
      },
      languages: () => languageOptions(app),
      languagesChanged,
      renderMarkdown:
        rendermime === null
          ? undefined
          : async markdown => {
              const renderer = rendermime.createRenderer('text/markdown');
              await renderer.renderModel(
                new MimeModel({ data: { 'text/markdown': markdown }, trusted: false })
              );
              return renderer;
            }
    });

    // In a tab behind the notebook the panel's knocks are out of sight: say so where it shows.
    const announced = new Map<string, string | null>();
    session.room.knocksChanged.connect(room => {
      for (const knock of room.knocks.values()) {
        if (announced.has(knock.participantId)) {
          continue;
        }
        let notice: string | null = null;
        if (!panel.isVisible && room.isStaff) {
          notice = Notification.info(trans.__('%1 is waiting to join.', knock.name), {
            autoClose: false,
            actions: [
              {
                label: trans.__('Admit'),
                callback: () => room.admit(knock.participantId),
                displayType: 'accent'
              },
              { label: trans.__('Show'), callback: () => shell.activateById(panel.id) }
            ]
          });
        }
        announced.set(knock.participantId, notice);
      }
      for (const [id, notice] of [...announced]) {
        if (!room.knocks.has(id)) {
          announced.delete(id);
          if (notice !== null) {
            Notification.dismiss(notice);
          }
        }
      }
    });

    // A new kernel id (language switch, a restarted kernel): the notebook's session now points at
    // it on the server; reading the sessions again connects the notebook to it.
    let kernelId: string | undefined = undefined;
    session.room.kernelChanged.connect((_, kernel) => {
      const id = kernel?.kernel_id;
      if (id !== undefined && kernelId !== undefined && id !== kernelId) {
        void app.serviceManager.sessions.refreshRunning().catch(error => {
          console.warn('jupyter-interview: cannot refresh the notebook session', error);
        });
      }
      kernelId = id ?? kernelId;
    });

    const findNotebook = (): NotebookPanel | null =>
      tracker?.find(w => w.context.path === notebookPath()) ?? null;
    const placer = new PanelPlacer(shell, panel, findNotebook);

    // Only once the server said so (`me`): freezing editors cannot be undone, and a restored
    // notebook may show before `me` answers.
    const readOnly = (): boolean => isCandidate() && session.access === 'read';
    // A candidate keeps no kernel connection after End: the server refuses it. The end screen
    // comes from the room socket, before `me` answers; End is final, so either says it.
    const noKernel = (): boolean =>
      (isCandidate() || isCandidateOnPage()) &&
      (session.screen === 'ended' || session.access === 'read');
    // One notice while it shows: "Run all" asks once per cell.
    let runRefusedAt = -Infinity;
    const tellRunRefused = (): void => {
      if (Date.now() - runRefusedAt < 5000) {
        return;
      }
      runRefusedAt = Date.now();
      Notification.info(
        trans.__('The interview has ended: the notebook can no longer be run.'),
        { autoClose: 5000 }
      );
    };
    const appliers = new Map<NotebookPanel, () => void>();
    const guard = (nb: NotebookPanel): void => {
      // Once per panel: a restored notebook is both added to the tracker and found after restore.
      if (nb.context.path !== notebookPath() || appliers.has(nb)) {
        return;
      }
      const freeze = enforceReadOnly(nb, readOnly);
      // Before the context initialises its session (that waits for the file's contents).
      const release = releaseKernel(nb, noKernel, tellRunRefused);
      appliers.set(nb, () => {
        freeze();
        release();
      });
      nb.disposed.connect(() => appliers.delete(nb));
    };
    // As soon as the widget exists, before the shell shows it: the status bar reads the kernel
    // status then (and would keep "Initializing"); the tracker announces the widget later.
    app.docRegistry.getWidgetFactory('Notebook')?.widgetCreated.connect((_, widget) => {
      if (widget instanceof NotebookPanel) {
        guard(widget);
      }
    });
    tracker?.widgetAdded.connect((_, nb) => {
      if (nb.context.path === notebookPath()) {
        guard(nb);
        placer.place();
      }
    });

    let opening = false;
    const openNotebook = async (): Promise<void> => {
      if (opening || findNotebook() !== null || session.access === 'none' || notebookPath() === '') {
        return;
      }
      opening = true;
      try {
        await app.commands.execute('docmanager:open', { path: notebookPath(), factory: 'Notebook' });
        if (isCandidate()) {
          // The launcher the lab opened on an empty main area has nothing for a candidate.
          for (const widget of shell.widgets('main')) {
            if (widget.node.querySelector('.jp-Launcher') !== null) {
              widget.close();
            }
          }
        }
      } catch (error) {
        console.warn('jupyter-interview: cannot open the room notebook', error);
      } finally {
        opening = false;
      }
    };

    const keepInRoom =
      browser !== null && isCandidateOnPage()
        ? confineBrowser(browser, folder(), () => session.access)
        : null;

    // Read-only cells and the kernel's release follow the access and the screen (End).
    const reapply = (): void => {
      for (const apply of appliers.values()) {
        apply();
      }
    };
    const onAccess = (): void => {
      reapply();
      keepInRoom?.();
      void openNotebook();
    };
    session.accessChanged.connect(onAccess);
    session.recordChanged.connect(onAccess);
    session.screenChanged.connect(reapply);
    void app.restored.then(() => {
      // The notebook first: a Join pressed in the lobby before now opens the socket and the call now.
      handle.lobby.labReady();
      for (const nb of tracker?.filter(w => w.context.path === notebookPath()) ?? []) {
        guard(nb);
      }
      // The panel shows once the user is in the room: not during the device check or waiting.
      const enter = (): void => {
        if (session.screen === 'room') {
          session.screenChanged.disconnect(enter);
          placer.enable();
          handle.lobby.panelShown();
        }
      };
      session.screenChanged.connect(enter);
      enter();
      onAccess();
    });
  }
};

/** Whether the server named this page's user a candidate (known before any request). */
function isCandidateOnPage(): boolean {
  return document.body.getAttribute('data-interview-role') === 'candidate';
}
