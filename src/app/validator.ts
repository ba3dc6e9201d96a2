/**
 * A schema validator for JupyterLab's setting registry that compiles a plugin's schema only when
 * there is something to validate.
 *
 * At page start JupyterLab validates every plugin's settings: its `DefaultSchemaValidator` makes
 * two Ajv instances (one validates the user's settings, the other fills in the schema's defaults
 * for the composite) and compiles each plugin's schema in both. On a participant's page that was
 * 100-150 ms of the main thread before the first plugin that reads settings could start, though
 * the user's settings are usually empty (`{}`), where validation finds nothing.
 *
 * Here:
 * - empty user settings are not validated: the composite is the schema's defaults, filled in as
 *   Ajv's `useDefaults` does (`schemaDefaults`), and a schema that uses what that does not model
 *   (non-local `$ref`, `if`, `dependencies`, ...) goes to Ajv;
 * - anything else is validated by one Ajv instance (made when first needed), which checks a copy of
 *   the user's settings and fills in its defaults in one pass, with its code generated unoptimised
 *   (the same checks, each run a few times per page). One difference from JupyterLab's: a required
 *   setting that has a default is accepted when missing (it is filled in).
 */

import type { ISchemaValidator, ISettingRegistry } from '@jupyterlab/settingregistry';
import PLUGIN_SCHEMA from '@jupyterlab/settingregistry/lib/plugin-schema.json';
import { JSONExt } from '@lumino/coreutils';
import Ajv from 'ajv';
import json5 from 'json5';

type IError = ISchemaValidator.IError;
type ReadonlyPartialJSONObject = ISettingRegistry.IPlugin['data']['user'];

/** The Ajv key of a plugin's schema (a schema id must be a URI), as JupyterLab's. */
function schemaKey(plugin: string): string {
  return `jupyterlab-plugin:${encodeURIComponent(plugin)}`;
}

/** Keywords whose effect on defaults `schemaDefaults` does not model: such schemas go to Ajv. */
const UNMODELLED = ['if', 'then', 'else', 'dependencies', 'dependentSchemas', 'unevaluatedProperties', '$dynamicRef'];

/** Thrown inside `schemaDefaults` for a schema it does not model. */
class Unmodelled extends Error {}

/**
 * The composite of empty user settings: the schema's defaults, filled in as Ajv's `useDefaults`
 * does: a missing property gets a copy of the `default` written on its own schema (not one behind
 * its `$ref`), then the value, present or filled in, gets the defaults of its schema's properties
 * (through local `$ref`s and `allOf`), of its other values' schemas (`patternProperties`,
 * `additionalProperties`) and of its array items', recursively. Nothing is filled inside
 * `anyOf`, `oneOf` or `not` (Ajv does not either). Throws `Unmodelled` for what it does not model.
 */
export function schemaDefaults(schema: ISettingRegistry.ISchema): ReadonlyPartialJSONObject {
  const composite: any = {};
  fill(composite, schema, schema, 0);
  return composite;
}

/** `schemaDefaults(schema)`, or null for a schema it does not model (Ajv's, then). */
function modelledDefaults(schema: ISettingRegistry.ISchema): ReadonlyPartialJSONObject | null {
  try {
    return schemaDefaults(schema);
  } catch (error) {
    if (error instanceof Unmodelled) {
      return null;
    }
    throw error;
  }
}

function resolve(schema: any, root: any): any {
  let resolved = schema;
  for (let hops = 0; resolved && typeof resolved === 'object' && typeof resolved.$ref === 'string'; hops++) {
    const ref: string = resolved.$ref;
    if (!ref.startsWith('#/') || hops > 16) {
      throw new Unmodelled(`$ref ${ref}`);
    }
    let target: any = root;
    for (const part of ref.slice(2).split('/')) {
      target = target?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    if (target === undefined) {
      throw new Unmodelled(`$ref ${ref}`);
    }
    const { $ref: _ref, ...siblings } = resolved;
    // Ajv applies a $ref's siblings too: keep those that add properties or items.
    resolved = Object.keys(siblings).length ? { allOf: [target, siblings] } : target;
  }
  return resolved;
}

function fill(data: any, schemaOrRef: any, root: any, depth: number): void {
  if (depth > 64) {
    throw new Unmodelled('too deep');
  }
  const schema = resolve(schemaOrRef, root);
  if (!schema || typeof schema !== 'object') {
    return;
  }
  for (const keyword of UNMODELLED) {
    if (keyword in schema) {
      throw new Unmodelled(keyword);
    }
  }
  for (const part of schema.allOf ?? []) {
    fill(data, part, root, depth + 1);
  }
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    const properties: Record<string, any> = schema.properties ?? {};
    for (const [name, property] of Object.entries(properties)) {
      if (data[name] === undefined && property && typeof property === 'object' && 'default' in property) {
        data[name] = JSONExt.deepCopy(property.default);
      }
      if (data[name] !== undefined) {
        fill(data[name], property, root, depth + 1);
      }
    }
    // The other values present (filled in above from defaults) by the schemas that cover them.
    const patterns = Object.entries<any>(schema.patternProperties ?? {}).map(([p, s]) => [new RegExp(p, 'u'), s]);
    for (const name of Object.keys(data)) {
      if (name in properties) {
        continue;
      }
      const matching = patterns.filter(([pattern]) => pattern.test(name));
      for (const [, property] of matching) {
        fill(data[name], property, root, depth + 1);
      }
      if (matching.length === 0 && schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        fill(data[name], schema.additionalProperties, root, depth + 1);
      }
    }
  }
  if (Array.isArray(data) && schema.items) {
    if (Array.isArray(schema.items)) {
      throw new Unmodelled('tuple items');
    }
    for (const item of data) {
      fill(item, schema.items, root, depth + 1);
    }
  }
}

/** A schema validator that compiles a plugin's schema only when there is something to validate. */
export class LazySchemaValidator implements ISchemaValidator {
  validateData(plugin: ISettingRegistry.IPlugin, populate = true): IError[] | null {
    if (plugin.schema.type !== 'object') {
      const message = `Setting registry schemas' root-level type must be 'object', rejecting type: ${plugin.schema.type}`;
      return [{ instancePath: 'type', keyword: 'schema', schemaPath: '', message }];
    }
    let user: ReadonlyPartialJSONObject;
    try {
      user = json5.parse(plugin.raw);
    } catch (error) {
      return [{ instancePath: '', keyword: 'syntax', schemaPath: '', message: (error as Error).message }];
    }
    const isEmpty = user !== null && typeof user === 'object' && !Array.isArray(user) && Object.keys(user).length === 0;
    // The composite, or Ajv's errors (an array).
    const result = (isEmpty ? modelledDefaults(plugin.schema) : null) ?? this._validated(plugin, user);
    if (Array.isArray(result)) {
      return result;
    }
    if (populate) {
      plugin.data = { composite: result, user };
    }
    return null;
  }

  /**
   * Validate with Ajv: a copy of the user's settings, its defaults filled in by the same pass; the
   * composite, or the errors.
   */
  private _validated(plugin: ISettingRegistry.IPlugin, user: ReadonlyPartialJSONObject): ReadonlyPartialJSONObject | IError[] {
    const key = schemaKey(plugin.id);
    let compose = this._ajv.getSchema(key);
    if (!compose) {
      const errors = this._addSchema(key, plugin.schema);
      if (errors) {
        return errors;
      }
      compose = this._ajv.getSchema(key)!;
    }
    const composite = JSONExt.deepCopy(user) as ReadonlyPartialJSONObject;
    return compose(composite) ? composite : (compose.errors as IError[]);
  }

  /** Add a plugin's schema: it must be a plugin schema and a valid JSON schema (Ajv checks). */
  private _addSchema(key: string, schema: ISettingRegistry.ISchema): IError[] | null {
    const isPluginSchema = this._ajv.getSchema('jupyterlab-plugin-schema')!;
    if (!isPluginSchema(schema)) {
      return isPluginSchema.errors as IError[];
    }
    try {
      this._ajv.addSchema(schema, key);
      this._ajv.getSchema(key);
    } catch (error) {
      this._ajv.removeSchema(key);
      return [{ instancePath: '', keyword: 'schema', schemaPath: '', message: (error as Error).message }];
    }
    return null;
  }

  /** The Ajv instance, made (with JupyterLab's plugin schema) when first needed. */
  private get _ajv(): Ajv {
    if (this._instance === null) {
      this._instance = new Ajv({ strict: false, useDefaults: true, code: { optimize: false } });
      this._instance.addSchema(PLUGIN_SCHEMA, 'jupyterlab-plugin-schema');
    }
    return this._instance;
  }

  private _instance: Ajv | null = null;
}
