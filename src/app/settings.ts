/**
 * The participant app's setting registry: JupyterLab's `@jupyterlab/apputils-extension:settings`
 * (same id), with a validator that compiles a plugin's schema only when there is something to
 * validate (./validator).
 */

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { SettingConnector } from '@jupyterlab/apputils-extension/lib/settingconnector';
import { PageConfig } from '@jupyterlab/coreutils';
import { ISettingConnector, ISettingRegistry, SettingRegistry } from '@jupyterlab/settingregistry';

import { LazySchemaValidator } from './validator';

/**
 * The registry of the settings of the plugins this page has, and, once the lab has restored, of
 * any other of its plugins that has a schema, as JupyterLab's.
 */
export const settingsPlugin: JupyterFrontEndPlugin<ISettingRegistry> = {
  id: '@jupyterlab/apputils-extension:settings',
  description: 'Provides the setting registry (schemas compiled when needed).',
  autoStart: true,
  provides: ISettingRegistry,
  optional: [ISettingConnector],
  activate: async (app: JupyterFrontEnd, settingsConnector: ISettingConnector | null) => {
    const connector = settingsConnector ?? new SettingConnector(app.serviceManager.settings);
    const registry = new SettingRegistry({
      connector,
      validator: new LazySchemaValidator(),
      plugins: (await connector.list('active')).values.filter(value => app.hasPlugin(value.id))
    });
    void app.restored.then(async () => {
      const { ids } = await connector.list('ids');
      for (const id of ids) {
        if (!app.hasPlugin(id) || PageConfig.Extension.isDisabled(id) || id in registry.plugins) {
          continue;
        }
        registry.load(id).catch(error => console.warn(`Settings failed to load for (${id})`, error));
      }
    });
    return registry;
  }
};
