/**
 * Start the participant's JupyterLab: the bundled plugins (./plugins) and the federated
 * extensions' plugins, less those the page config disables, then the lab itself.
 */

import './style';

import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { JupyterLab } from '@jupyterlab/application';
import { JupyterPluginRegistry, PageConfig } from '@jupyterlab/coreutils';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { IConnectionStatus, IServiceManager } from '@jupyterlab/services';

import type { ILoadedExtension } from './federation';
import { CORE_EXTENSIONS, MIME_EXTENSIONS } from './plugins';

/** A plugin as JupyterLab's plugin manager lists it. */
type PluginInfo = JupyterLab.IPluginInfo;

/** The plugins of a module: its default export (one plugin or a list), or the module itself. */
function pluginsOf(module: any): any[] {
  const exported = module && Object.prototype.hasOwnProperty.call(module, '__esModule') ? module.default : module;
  return Array.isArray(exported) ? exported : [exported];
}

/** Sorts the plugins of each package into enabled, disabled and deferred, as JupyterLab does. */
class Plugins {
  readonly available: PluginInfo[] = [];
  readonly disabled: string[] = [];
  readonly deferred: string[] = [];

  /** The enabled plugins of `module` (a package's, named `scope`). */
  enabled<T extends { id: string }>(scope: string, module: any): T[] {
    const enabled: T[] = [];
    for (const plugin of pluginsOf(module) as T[]) {
      const isDisabled = PageConfig.Extension.isDisabled(plugin.id);
      const p = plugin as any;
      this.available.push({
        id: plugin.id,
        description: p.description,
        requires: p.requires ?? [],
        optional: p.optional ?? [],
        provides: p.provides ?? null,
        autoStart: p.autoStart,
        enabled: !isDisabled,
        extension: scope
      });
      if (isDisabled) {
        this.disabled.push(plugin.id);
        continue;
      }
      if (PageConfig.Extension.isDeferred(plugin.id)) {
        this.deferred.push(plugin.id);
      }
      enabled.push(plugin);
    }
    return enabled;
  }
}

/** Settled values, with each failure logged: one broken extension does not stop the page. */
async function settled<T>(promises: Promise<T>[]): Promise<T[]> {
  const values: T[] = [];
  for (const result of await Promise.allSettled(promises)) {
    if (result.status === 'fulfilled') {
      values.push(result.value);
    } else {
      console.error(result.reason);
    }
  }
  return values;
}

/** Start the lab with the bundled plugins and those of the federated extensions being `loading`. */
export async function start(loading: Promise<ILoadedExtension>[]): Promise<JupyterLab> {
  const sorted = new Plugins();
  const register: JupyterFrontEndPlugin<any>[] = [];
  // The lab takes the renderers themselves, though it types them as modules.
  const mimeExtensions: any[] = [];
  const loaded = await settled(loading);
  const isFederated = new Set(loaded.map(e => e.name));

  for (const [scope, module] of MIME_EXTENSIONS) {
    if (!isFederated.has(scope)) {
      mimeExtensions.push(...sorted.enabled<IRenderMime.IExtension>(scope, module));
    }
  }
  for (const [scope, module] of CORE_EXTENSIONS) {
    if (!isFederated.has(scope)) {
      register.push(...sorted.enabled<JupyterFrontEndPlugin<any>>(scope, module));
    }
  }
  for (const extension of loaded) {
    if (extension.mimeExtension) {
      mimeExtensions.push(...sorted.enabled<IRenderMime.IExtension>(extension.name, extension.mimeExtension));
    }
    if (extension.extension) {
      register.push(...sorted.enabled<JupyterFrontEndPlugin<any>>(extension.name, extension.extension));
    }
  }

  const pluginRegistry = new JupyterPluginRegistry();
  pluginRegistry.registerPlugins(register);
  const connectionStatus = await pluginRegistry.resolveOptionalService(IConnectionStatus);
  const serviceManager = await pluginRegistry.resolveRequiredService(IServiceManager);
  const lab = new JupyterLab({
    pluginRegistry,
    serviceManager,
    connectionStatus: connectionStatus ?? undefined,
    mimeExtensions,
    disabled: { matches: sorted.disabled, patterns: PageConfig.Extension.disabled },
    deferred: { matches: sorted.deferred, patterns: PageConfig.Extension.deferred },
    availablePlugins: sorted.available
  });
  void lab.start({ ignorePlugins: sorted.deferred, bubblingKeydown: true });
  return lab;
}
