/**
 * The JupyterLab plugins of a participant's page: what an interview in a notebook uses, and what
 * those plugins need. JupyterLab's own page also compiles in the terminal, the debugger, consoles,
 * viewers for CSV, PDF, images, audio and video, the extension and plugin managers, the settings
 * editor, the launcher, the table of contents, LSP, help, and more, and downloads them whether they
 * are enabled or not. The server's list of plugins disabled for participants
 * (PARTICIPANT_DISABLED_PLUGINS in server_ext/app.py) still applies on top of this one.
 */

import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { ILatexTypesetter } from '@jupyterlab/rendermime';

import applicationExtension from '@jupyterlab/application-extension';
import apputilsExtension from '@jupyterlab/apputils-extension';
import cellToolbarExtension from '@jupyterlab/cell-toolbar-extension';
import codemirrorExtension from '@jupyterlab/codemirror-extension';
import completerExtension from '@jupyterlab/completer-extension';
import docmanagerExtension from '@jupyterlab/docmanager-extension';
import documentsearchExtension from '@jupyterlab/documentsearch-extension';
import filebrowserExtension from '@jupyterlab/filebrowser-extension';
import fileeditorExtension from '@jupyterlab/fileeditor-extension';
import javascriptExtension from '@jupyterlab/javascript-extension';
import jsonExtension from '@jupyterlab/json-extension';
import mainmenuExtension from '@jupyterlab/mainmenu-extension';
import markedparserExtension from '@jupyterlab/markedparser-extension';
import mathjaxExtension from '@jupyterlab/mathjax-extension';
import notebookExtension from '@jupyterlab/notebook-extension';
import rendermimeExtension from '@jupyterlab/rendermime-extension';
import servicesExtension from '@jupyterlab/services-extension';
import shortcutsExtension from '@jupyterlab/shortcuts-extension';
import statusbarExtension from '@jupyterlab/statusbar-extension';
import themeDarkExtension from '@jupyterlab/theme-dark-extension';
import themeLightExtension from '@jupyterlab/theme-light-extension';
import tooltipExtension from '@jupyterlab/tooltip-extension';
import translationExtension from '@jupyterlab/translation-extension';
import uiComponentsExtension from '@jupyterlab/ui-components-extension';

import { noServerEventsPlugin } from './events';
import { noLauncherPlugin } from './launcher';
import { onlyWithMath } from './mathjax';
import { settingsPlugin } from './settings';

// JupyterLab's MathJax plugin, loading MathJax only for math (./mathjax).
const lazyMathJaxPlugin: JupyterFrontEndPlugin<ILatexTypesetter> = {
  ...mathjaxExtension,
  activate: (app, ...services) => onlyWithMath(mathjaxExtension.activate(app, ...services) as ILatexTypesetter)
};

/** Plugins of the bundled packages swapped for ours (same id). */
const REPLACED = new Map<string, unknown>(
  [noServerEventsPlugin, lazyMathJaxPlugin, settingsPlugin].map(plugin => [plugin.id, plugin])
);

/** Plugins of the bundled packages left out: they need a service no plugin here provides. */
const OMITTED = new Set([
  '@jupyterlab/tooltip-extension:consoles' // code consoles
]);

/** A package's plugins with REPLACED and OMITTED applied. */
function adapted(module: any): unknown[] {
  const plugins: any[] = Array.isArray(module) ? module : [module];
  return plugins.filter(p => !OMITTED.has(p.id)).map(p => REPLACED.get(p.id) ?? p);
}

/**
 * A bundled package and its plugins (its default export: one plugin or a list), by package name (a
 * plugin's scope). Typed loosely: the lab's plugins, its service-manager plugins and renderers differ.
 */
export const CORE_EXTENSIONS: [string, unknown][] = [
  ['@jupyterlab/application-extension', adapted(applicationExtension)],
  ['@jupyterlab/apputils-extension', adapted(apputilsExtension)],
  ['@jupyterlab/cell-toolbar-extension', adapted(cellToolbarExtension)],
  ['@jupyterlab/codemirror-extension', adapted(codemirrorExtension)],
  ['@jupyterlab/completer-extension', adapted(completerExtension)],
  ['@jupyterlab/docmanager-extension', adapted(docmanagerExtension)],
  ['@jupyterlab/documentsearch-extension', adapted(documentsearchExtension)],
  ['@jupyterlab/filebrowser-extension', adapted(filebrowserExtension)],
  ['@jupyterlab/fileeditor-extension', adapted(fileeditorExtension)],
  ['@jupyterlab/mainmenu-extension', adapted(mainmenuExtension)],
  ['@jupyterlab/markedparser-extension', adapted(markedparserExtension)],
  ['@jupyterlab/mathjax-extension', adapted(mathjaxExtension)],
  ['@jupyterlab/notebook-extension', adapted(notebookExtension)],
  ['@jupyterlab/rendermime-extension', adapted(rendermimeExtension)],
  ['@jupyterlab/services-extension', adapted(servicesExtension)],
  ['@jupyterlab/shortcuts-extension', adapted(shortcutsExtension)],
  ['@jupyterlab/statusbar-extension', adapted(statusbarExtension)],
  ['@jupyterlab/theme-dark-extension', adapted(themeDarkExtension)],
  ['@jupyterlab/theme-light-extension', adapted(themeLightExtension)],
  ['@jupyterlab/tooltip-extension', adapted(tooltipExtension)],
  ['@jupyterlab/translation-extension', adapted(translationExtension)],
  ['@jupyterlab/ui-components-extension', adapted(uiComponentsExtension)],
  ['jupyter-interview-app', [noLauncherPlugin]]
];

/** Bundled renderers of output types (mime extensions). */
export const MIME_EXTENSIONS: [string, unknown][] = [
  ['@jupyterlab/javascript-extension', adapted(javascriptExtension)],
  ['@jupyterlab/json-extension', adapted(jsonExtension)]
];
